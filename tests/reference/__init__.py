"""Hand-written textbook losses of the catalog models (independent of :mod:`schemagm.compiler`).

The references take plain network callables, the data and the noise, and return the loss of
every parameter group.  They are written from the formulas of SEMANTICS.md section 3 as refined
in docs/design.md section 4, never from the compiler's code, so that a test comparing the two
can fail.
"""
