"""A language server for .sgm specs (``schemagm lsp``), a thin layer over the parser, the checker and ``fmt``.

:mod:`.analysis` answers the questions (diagnostics, hover, completion,
definition, formatting) on plain text; :mod:`.server` serves them over LSP with
pygls (the extra ``schemagm[lsp]``). See docs/editors.md.
"""
