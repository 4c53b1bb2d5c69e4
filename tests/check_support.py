"""The checker's diagnostics for a spec text, for tests that assert a check error's message and place."""

from __future__ import annotations

import pytest

from schemagm.errors import Diagnostic, SpecError
from schemagm.graph.build import parse


def errors(text: str) -> list[Diagnostic]:
    """Every diagnostic of a spec that must fail its check."""
    with pytest.raises(SpecError) as err:
        parse(text, "spec.sgm")
    return list(err.value.diagnostics)


def one(text: str) -> Diagnostic:
    """The single diagnostic of a spec with exactly one error."""
    found = errors(text)
    assert len(found) == 1, [d.message for d in found]
    return found[0]
