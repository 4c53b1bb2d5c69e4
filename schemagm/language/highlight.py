"""A Pygments lexer for .sgm specs, so that docs and notebooks highlight them.

Registered through the ``pygments.lexers`` entry point (``pygmentize -l sgm``,
``get_lexer_by_name("sgm")``, Sphinx's ``.. code-block:: sgm``)::

    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from schemagm.language.highlight import SgmLexer
    html = highlight(open("specs/vae.sgm").read(), SgmLexer(), HtmlFormatter())

The token classes follow the grammar (schemagm/language/grammar.lark): the four
arrows are operators, roles and ``model``/``options`` keywords, a call's name
(``mlp(256)``) a builtin, a label (``G_theta``, also the trunk of ``head(D_phi)``) a function name.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["SgmLexer"]

NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class SgmLexer(RegexLexer):
    """The .sgm language of schemagm: one line per node, one line per arrow."""

    name = "schemagm"
    aliases: ClassVar[list[str]] = ["sgm", "schemagm"]
    filenames: ClassVar[list[str]] = ["*.sgm"]
    mimetypes: ClassVar[list[str]] = ["text/x-sgm"]
    url = "https://github.com/schemagm/schemagm"

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[misc]
        "root": [
            (r"[ \t]+", Whitespace),
            (r"\r?\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"(model)(\s+)(" + NAME + ")", bygroups(Keyword.Namespace, Whitespace, Name.Class)),
            (r"(data|latent|indicator)(\s+)(" + NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (words(("options",), suffix=r"\b"), Keyword),
            (words(("given", "from", "partial", "in"), suffix=r"\b"), Keyword),
            (words(("adversarial", "perfect", "no_reparam"), suffix=r"\b"), Keyword.Pseudo),
            (words(("true", "false"), suffix=r"\b"), Keyword.Constant),
            (r"<-->|<->|-->|==>|->|=>", Operator),
            (r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?", Number),
            # a head on a shared trunk: `head(D_phi)` names a network (a label)
            (
                r"(head)(\s*)(\()(\s*)(" + NAME + r")(\s*)(\))",
                bygroups(Name.Builtin, Whitespace, Punctuation, Whitespace, Name.Function, Whitespace, Punctuation),
            ),
            (r"(" + NAME + r")(\s*)(\()", bygroups(Name.Builtin, Whitespace, Punctuation)),
            (r"(" + NAME + r"_" + NAME + r")(\s*)(=)(?!=|>)", bygroups(Name.Function, Whitespace, Operator)),
            (NAME + r"(?:\." + NAME + r")+", Name.Namespace),
            (NAME, Name),
            (r"=", Operator),
            (r"[\[\](){},:]", Punctuation),
        ],
    }
