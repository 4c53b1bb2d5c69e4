"""The reproduction's tables: which specs, which settings, which budget, and the published numbers.

Nothing here imports torch: the page (:mod:`.page`) is rendered from these definitions and the
committed result files alone.  A table is a list of *variants* (a model in a setting: a spec file,
text substitutions on it, extra settings such as the fraction of training data); every variant is
trained and evaluated once per seed, and each (table, variant, seed) is one cell with its own
result file (:mod:`.store`).

The published numbers are the paper's (Hu et al., ICLR 2018, Tables 2 and 3, MNIST) or, where a
lecture makes a claim without a number, the claim in words.  They are constants of the claim, not
results: every result in the page comes from a result file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Variant", "Table", "TABLES", "TABLE_NAMES", "PROFILES", "table_by_name", "cell_budget"]

#: the two budgets: the committed page is ``full``; ``quick`` is the minutes-long smoke run CI does
PROFILES = ("full", "quick")


@dataclass(frozen=True)
class Variant:
    """One model in one setting of a table."""

    id: str  # short name in result file names: "gan", "vae-f0.01"
    label: str  # as the page shows it: "GAN"
    spec: str  # path of the spec, relative to the repository root
    setting: str = ""  # as the page shows it: "1 %", "β = 2"
    replace: tuple[tuple[str, str], ...] = ()  # text substitutions on the spec (each must match)
    extra: dict[str, Any] = field(default_factory=dict)  # settings of the cell (fraction of data, ...)


@dataclass(frozen=True)
class Table:
    name: str  # --only NAME, the result folder
    title: str
    source: str  # where the claim comes from
    claim: str  # the claim in words
    variants: tuple[Variant, ...]
    #: per profile: the training and evaluation budget shared by every cell of the table
    budgets: dict[str, dict[str, Any]]
    digits: bool = True  # trained on the digits (so on MNIST with --mnist)
    #: the published numbers: {variant id: {metric: value}} (MNIST where the paper gives them)
    published: dict[str, dict[str, float]] = field(default_factory=dict)


FRACTIONS = (0.01, 0.1, 1.0)
BETAS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _pct(f: float) -> str:
    return f"{f * 100:g} %"


def _vae_aavae() -> tuple[Variant, ...]:
    out = []
    for f in FRACTIONS:
        for mid, label, spec in (("vae", "VAE", "specs/vae.sgm"), ("aavae", "AAVAE", "specs/aavae.sgm")):
            out.append(Variant(f"{mid}-f{f:g}", label, spec, _pct(f), extra={"fraction": f}))
    return tuple(out)


def _betas() -> tuple[Variant, ...]:
    return tuple(
        Variant(f"beta{b:g}", "β-VAE", "specs/beta_vae.sgm", f"β = {b:g}", (("beta = 4.0", f"beta = {b!r}"),))
        for b in BETAS
    )


TABLES: tuple[Table, ...] = (
    Table(
        "gan_iwgan",
        "GAN against IWGAN: inception score and FID",
        "Hu et al. 2018, Sec. 4 and Table 2 (MNIST)",
        "weighting the generator's samples by the discriminator (IWGAN) raises the inception score",
        (
            Variant("gan", "GAN", "specs/gan.sgm"),
            Variant("iwgan", "IWGAN (k = 8)", "specs/iwgan.sgm"),
        ),
        {
            "full": {"steps": 2500, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.999], "n_samples": 1000},
            "quick": {"steps": 20, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.999], "n_samples": 200},
        },
        published={"gan": {"inception_score": 8.34}, "iwgan": {"inception_score": 8.45}},
    ),
    Table(
        "vae_aavae",
        "VAE against AAVAE: the test bound at 1 %, 10 % and 100 % of the training data",
        "Hu et al. 2018, Sec. 4 and Table 3 (MNIST)",
        "activating the VAE's adversary (AAVAE) raises the test bound, most with little data",
        _vae_aavae(),
        {
            "full": {"steps_by_fraction": {"0.01": 500, "0.1": 800, "1": 1200}, "batch_size": 64, "lr": 1e-3, "k": 50},
            "quick": {"steps_by_fraction": {"0.01": 10, "0.1": 10, "1": 10}, "batch_size": 64, "lr": 1e-3, "k": 5},
        },
        published={
            "vae-f0.01": {"iw": -122.89},
            "vae-f0.1": {"iw": -104.49},
            "vae-f1": {"iw": -92.53},
            "aavae-f0.01": {"iw": -122.15},
            "aavae-f0.1": {"iw": -103.05},
            "aavae-f1": {"iw": -92.42},
        },
    ),
    Table(
        "ring8",
        "Ring of 8 Gaussians: GAN against VAE",
        "Hu et al. 2018, Sec. 3.2 and Lemma 1; the lectures on the two KL directions",
        "a GAN misses modes with sharp samples, where a VAE covers them with blur",
        (
            Variant("gan2d", "GAN", "specs/extra/gan2d.sgm"),
            Variant("vae2d", "VAE", "specs/extra/vae2d.sgm"),
        ),
        {
            "full": {"steps": 2000, "batch_size": 256, "lr": 1e-3, "betas": [0.5, 0.999], "n_samples": 2500},
            "quick": {"steps": 20, "batch_size": 256, "lr": 1e-3, "betas": [0.5, 0.999], "n_samples": 500},
        },
        digits=False,
    ),
    Table(
        "dae",
        "Denoising autoencoder with and without walkback",
        "Bengio, Yao, Alain and Vincent 2013 (walkback); the lectures on spurious modes",
        "walkback removes the sampling chain's spurious modes",
        (
            Variant("dae-walkback3", "DAE, walkback 3", "specs/dae.sgm", "walkback = 3"),
            Variant(
                "dae-walkback1",
                "DAE, no walkback",
                "specs/dae.sgm",
                "walkback = 1",
                (("walkback = 3", "walkback = 1"),),
            ),
        ),
        {
            "full": {
                "steps": 1200,
                "batch_size": 64,
                "lr": 1e-3,
                "chain_steps": 30,
                "n_samples": 500,
                "unsure_below": 0.5,
            },
            "quick": {
                "steps": 10,
                "batch_size": 64,
                "lr": 1e-3,
                "chain_steps": 5,
                "n_samples": 100,
                "unsure_below": 0.5,
            },
        },
    ),
    Table(
        "beta_vae",
        "β-VAE: reconstruction, KL, I(x; z) and marginal KL",
        "Higgins et al. 2017; Hoffman and Johnson 2016 (ELBO surgery); the lectures",
        "β trades reconstruction for a factorised code; "
        "ELBO surgery splits the average KL into I(x; z) and the marginal KL",
        _betas(),
        {
            "full": {"steps": 800, "batch_size": 64, "lr": 1e-3, "surgery_draws": 8},
            "quick": {"steps": 10, "batch_size": 64, "lr": 1e-3, "surgery_draws": 2},
        },
    ),
    Table(
        "flows",
        "Flows and dequantization: bits/dim, uniform against variational",
        "Ho et al. 2019 (Flow++), variational dequantization; the lectures on flows",
        "a learned (variational) dequantization gives a tighter bound, fewer bits/dim, than uniform noise",
        (
            Variant("uniform", "RealNVP, uniform dequantization", "specs/extra/dequant_flow.sgm"),
            Variant("variational", "RealNVP, variational dequantization", "specs/extra/vdequant_flow.sgm"),
        ),
        {
            "full": {"steps": 800, "batch_size": 64, "lr": 1e-3, "k": 20},
            "quick": {"steps": 5, "batch_size": 64, "lr": 1e-3, "k": 2},
        },
    ),
)

TABLE_NAMES = tuple(t.name for t in TABLES)


def table_by_name(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(name)


def cell_budget(table: Table, variant: Variant, profile: str) -> dict[str, Any]:
    """The budget of one cell: the table's, with the settings that depend on the variant resolved."""
    budget = dict(table.budgets[profile])
    by_fraction = budget.pop("steps_by_fraction", None)
    if by_fraction is not None:
        budget["steps"] = by_fraction[f"{variant.extra['fraction']:g}"]
    return budget | dict(variant.extra)
