"""Suggestions for unknown names: ``did you mean 'digits'?`` (difflib's closest match)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (difflib, ratio >= 0.5), or None."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest known name, or ``""`` when none is close."""
    guess = closest(name, known)
    return f"did you mean '{guess}'? " if guess else ""
