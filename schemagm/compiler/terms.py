"""Objective terms and phases, and how they print as formulas (unicode and LaTeX).

A :class:`Term` is one summand of the objective read off the graph (docs/design.md
section 4).  Its contribution to the loss of every group it updates is
``sign * weight * value``; its ``formula`` shows exactly that contribution, e.g.
``−𝔼_{p_data(x) q_η(z|x)} log p_θ(x|z)`` or ``β·KL(q_η(z|x) ‖ p(z))``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Sym", "Term", "Phase", "Objective", "greek", "net_sym", "node_sym", "expectation"]

_GREEK = {
    "alpha": ("α", "\\alpha"),
    "beta": ("β", "\\beta"),
    "gamma": ("γ", "\\gamma"),
    "delta": ("δ", "\\delta"),
    "epsilon": ("ε", "\\epsilon"),
    "zeta": ("ζ", "\\zeta"),
    "eta": ("η", "\\eta"),
    "theta": ("θ", "\\theta"),
    "iota": ("ι", "\\iota"),
    "kappa": ("κ", "\\kappa"),
    "lambda": ("λ", "\\lambda"),
    "mu": ("μ", "\\mu"),
    "nu": ("ν", "\\nu"),
    "xi": ("ξ", "\\xi"),
    "pi": ("π", "\\pi"),
    "rho": ("ρ", "\\rho"),
    "sigma": ("σ", "\\sigma"),
    "tau": ("τ", "\\tau"),
    "phi": ("φ", "\\phi"),
    "chi": ("χ", "\\chi"),
    "psi": ("ψ", "\\psi"),
    "omega": ("ω", "\\omega"),
}


@dataclass(frozen=True)
class Sym:
    """A piece of formula in both notations."""

    u: str
    tex: str

    def __add__(self, other: Sym | str) -> Sym:
        if isinstance(other, str):
            return Sym(self.u + other, self.tex + other)
        return Sym(self.u + other.u, self.tex + other.tex)

    def __radd__(self, other: str) -> Sym:
        return Sym(other + self.u, other + self.tex)

    @staticmethod
    def join(parts: Iterable[Sym], u_sep: str, tex_sep: str | None = None) -> Sym:
        parts = list(parts)
        return Sym(u_sep.join(p.u for p in parts), (u_sep if tex_sep is None else tex_sep).join(p.tex for p in parts))


def greek(group: str) -> Sym:
    """The paper's subscript of a parameter group: theta -> θ / \\theta; other names as written."""
    if group in _GREEK:
        return Sym(*_GREEK[group])
    return Sym(group, "\\mathrm{" + group.replace("_", "\\_") + "}")


def _tex_name(name: str) -> str:
    if len(name) == 1:
        return name
    if "_" in name:
        head, _, tail = name.partition("_")
        return f"{_tex_name(head)}_{{{tail.replace('_', '')}}}"
    return "\\mathit{" + name + "}"


def node_sym(name: str) -> Sym:
    return Sym(name, _tex_name(name))


def net_sym(label: str | None, group: str | None) -> Sym:
    """``G_theta`` -> G_θ / G_{\\theta}."""
    base = label or "f"
    if group is None:
        return Sym(base, _tex_name(base))
    g = greek(group)
    return Sym(f"{base}_{g.u}", f"{_tex_name(base)}_{{{g.tex}}}")


def call(f: Sym, args: Iterable[Sym], given: Iterable[Sym] | None = None) -> Sym:
    """``f(a, b)`` or, with ``given``, ``f(a|b, c)``."""
    args = list(args)
    inner = Sym.join(args, ", ")
    if given is not None:
        inner = inner + Sym("|", " \\mid ") + Sym.join(list(given), ", ")
    return f + Sym("(", "(") + inner + Sym(")", ")")


def expectation(factors: Iterable[Sym]) -> Sym:
    """``𝔼_{p_data(x) q_η(z|x)} `` (with a trailing space), or nothing without factors."""
    seen: list[Sym] = []
    for f in factors:
        if f not in seen:
            seen.append(f)
    if not seen:
        return Sym("", "")
    return Sym("𝔼_{" + " ".join(f.u for f in seen) + "} ", "\\mathbb{E}_{" + " ".join(f.tex for f in seen) + "} ")


LOG = Sym("log ", "\\log ")
MINUS = Sym("−", "-")


@dataclass(frozen=True)
class Term:
    """One summand of the objective.

    ``groups``: the parameter groups it updates (those its value depends on; the
    adversary owner's term uses detached samples).  ``kind``: which part of the rule
    made it (``score``, ``reconstruction``, ``kl``, ``adversary``, ``reversed``,
    ``gradient_penalty``, ``mmd``, ``sleep``, ``iw_bound``, ``walkback``).
    ``weight_name``: the option the weight comes from (``beta``, ``mi_weight``,
    ``gradient_penalty``) or None.
    """

    name: str
    groups: frozenset[str]
    weight: float
    sign: int
    formula: str
    latex: str
    phase: str
    kind: str = ""
    branch: int | None = None
    weight_name: str | None = None

    def __str__(self) -> str:
        return f"{self.name} [{', '.join(sorted(self.groups))}]: {self.formula}"


@dataclass(frozen=True)
class Phase:
    """Groups updated together: ``steps`` updates per update of the model phase."""

    name: str
    groups: tuple[str, ...]
    steps: int = 1


@dataclass
class Objective:
    """The compiled objective: its terms and its phases (the adversary first)."""

    terms: list[Term] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)

    def term(self, name: str) -> Term:
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(name)

    def terms_of(self, group: str) -> list[Term]:
        return [t for t in self.terms if group in t.groups]

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"no phase named {name!r} (phases: {', '.join(p.name for p in self.phases)})")

    def loss_formula(self, group: str, latex: bool = False) -> str:
        """The loss of one group: its terms' formulas joined (each formula carries its sign)."""
        out = ""
        for t in self.terms_of(group):
            f = t.latex if latex else t.formula
            minus = "-" if latex else "−"
            if not out:
                out = f
            elif f.startswith(minus):
                out += f" {minus} " + f[len(minus) :]
            else:
                out += " + " + f
        return out or "0"

    def text(self, latex: bool = False) -> str:
        """Every phase, every group's loss and every term, one per line."""
        groups: list[str] = [g for p in self.phases for g in p.groups]
        lines = []
        for p in self.phases:
            lines.append(
                f"phase {p.name}: {', '.join(p.groups)} ({p.steps} step{'s' if p.steps != 1 else ''} per model step)"
            )
        for g in groups:
            name = g if latex else greek(g).u
            lines.append(f"loss({name}) = {self.loss_formula(g, latex)}")
        for t in self.terms:
            lines.append(
                f"  {t.name} [{', '.join(sorted(t.groups))}] weight {t.weight:g}: {t.latex if latex else t.formula}"
            )
        return "\n".join(lines)
