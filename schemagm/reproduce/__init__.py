"""Reproduction of the paper's and the lectures' claims: tables with error bars (``schemagm reproduce``).

The stage after evaluation: it trains the catalog's specs (:mod:`schemagm.train`) over several seeds
and evaluates them (:mod:`schemagm.evaluate`), one cell per (table, model, setting, seed), each
cell cached in a JSON result file; the page docs/reproduction.md and its figures are rendered
from those files alone.

* :mod:`.tables`: the tables, their variants, budgets and the published numbers (no torch);
* :mod:`.store`: result files and the cache key (no torch);
* :mod:`.cells`: train and evaluate one cell;
* :mod:`.page`: the page from the result files (no torch);
* :mod:`.figures`: the figures from the result files (matplotlib, optional);
* :mod:`.runner`: the command's work: the cells not cached, then the figures and the page.
"""

from __future__ import annotations

__all__ = ["reproduce", "write_page", "render_page", "TABLE_NAMES"]

from .page import render_page
from .runner import reproduce, write_page
from .tables import TABLE_NAMES
