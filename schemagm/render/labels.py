"""Labels in the paper's notation: ``G_theta`` is drawn G_θ, ``q_eta`` q_η, ``D_phi`` D_φ.

A label is a base and an optional subscript.  Each is kept in two forms:

* ``text``: plain unicode (``G_θ``, ``x₁``), for titles, tooltips and tests;
* ``html``: a Graphviz/Mermaid HTML fragment (``<i>G</i><sub>θ</sub>``), for the drawing.

Node names are kept as written (``xn`` stays ``xn``); only the parts that have an
obvious mathematical reading are prettified: a Greek letter's name becomes the
letter (``eta`` -> η), trailing digits become a subscript (``x1`` -> x₁), and an
underscore starts a subscript (``x_src`` -> x with subscript src).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["GREEK", "Label", "greek", "edge_label", "node_label", "PERFECT", "KERNEL"]

#: Greek letters by name (lower case, and capitals for the names written capitalised)
GREEK: dict[str, str] = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "omicron": "ο",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
}

_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_TRAILING_DIGITS = re.compile(r"^([A-Za-z]+?)(\d+)$")


def greek(word: str) -> str:
    """The Greek letter a word names (``theta`` -> θ), else the word itself."""
    return GREEK.get(word, word)


@dataclass(frozen=True)
class Label:
    """A base with an optional subscript, e.g. G_θ."""

    base: str
    sub: str | None = None
    italic: bool = True
    #: a head's network (``Q_eta = head(D_phi)``): the label of the network whose trunk it shares
    trunk: Label | None = None

    @property
    def text(self) -> str:
        if self.trunk is not None:
            return f"{self._own_text} = head({self.trunk.text})"
        return self._own_text

    @property
    def own_text(self) -> str:
        """The network's own label, without the trunk it shares (Q_η)."""
        return self._own_text

    @property
    def _own_text(self) -> str:
        if not self.sub:
            return self.base
        if self.sub.isdigit():
            return self.base + self.sub.translate(_SUBSCRIPT_DIGITS)
        return f"{self.base}_{self.sub}"

    @property
    def html(self) -> str:
        base = html.escape(self.base, quote=False)
        if self.italic:
            base = f"<i>{base}</i>"
        if self.sub:
            base = f"{base}<sub>{html.escape(self.sub, quote=False)}</sub>"
        if self.trunk is not None:
            return f"{base} = head({self.trunk.html})"
        return base

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "html": self.html}


#: the perfect adversary q_* (a red edge with no network)
PERFECT = Label("q", "*")
#: a fixed-kernel two-sample test on a red edge
KERNEL = Label("MMD", None, italic=False)


def node_label(name: str) -> Label:
    """A node's label: ``z`` -> z, ``x1`` -> x₁, ``eta`` -> η, ``z_c`` -> z_c, ``xn`` -> xn."""
    if name in GREEK:
        return Label(GREEK[name])
    m = _TRAILING_DIGITS.match(name)
    if m:
        return Label(greek(m.group(1)), m.group(2))
    base, sep, sub = name.partition("_")
    if sep and base and sub:
        return Label(greek(base), greek(sub))
    return Label(name)


def edge_label(label: str | None, group: str | None, trunk: str | None = None) -> Label | None:
    """A network's label with its parameter group as a Greek subscript: (``G``, ``theta``) -> G_θ; a
    head's (``trunk="D_phi"``) shows the network whose trunk it shares: Q_η = head(D_φ)."""
    if label is None and group is None:
        return None
    shared = None
    if trunk is not None:
        t_label, _, t_group = trunk.rpartition("_")
        shared = edge_label(t_label or trunk, t_group if t_label else None)
    if label is None:
        return Label("", greek(group or ""), trunk=shared)
    return Label(greek(label), greek(group) if group else None, trunk=shared)
