"""Quality benchmark (not run in CI): prints figures for docs/quality.md.

1. Ring of 8 Gaussians (radius 2, std 0.02): the GAN (specs/extra/gan2d.sgm) and
   the VAE (specs/extra/vae2d.sgm), same training budget, side by side:
   modes covered and the fraction of high-quality samples (within 3 std of a
   mode), over a few seeds.  The seeds' claim (Hu et al. 2018, Sec. 3.2, Lemma 1):
   the GAN's KL(p_g || p_data) direction gives sharp samples and tends to miss
   modes; the VAE's KL(p_data || p_g) direction covers every mode with blurred
   samples (a lower high-quality fraction).
2. Digits: the compiled VAE (specs/vae.sgm) against a hand-written reference VAE
   with the same networks (MLP 64-256-16 encoder giving mean and log-variance,
   MLP 8-256-64 Bernoulli decoder), the same data split, optimiser, batch size
   and number of updates.  Target: test ELBOs within 1%.

3. Gaussian mixture on the ring (specs/extra/gmm.sgm: categorical c summed out exactly, linear
   normal decoder, uniform p(c)) against scikit-learn's GaussianMixture (EM, the same K = 8,
   diagonal covariances) fitted on the same training split: the test log-likelihood per point,
   exact (log Σ_c p(c) p(x | c) from the compiled networks) and the compiled ELBO.  Target:
   within 2%.  Needs scikit-learn (not a dependency of schemagm).

Usage (about 15 minutes on 2 cores shared with other jobs, with the defaults)::

    python benchmarks/quality.py                      # everything
    python benchmarks/quality.py --part ring --steps 6000 --lr 2e-4   # the slower setting of docs/quality.md
    python benchmarks/quality.py --part digits --epochs 50
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemagm.evaluate.likelihood import likelihood_bounds  # noqa: E402
from schemagm.evaluate.report import EvalSettings, evaluate_run  # noqa: E402
from schemagm.train.config import TrainConfig  # noqa: E402
from schemagm.train.launch import train  # noqa: E402

LOG_2PI = math.log(2 * math.pi)


# -- 1. ring of 8 -------------------------------------------------------------------------------
def ring(seeds: list[int], steps: int, n_samples: int, work: Path, lr: float) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"gan2d": [], "vae2d": []}
    for name in out:
        for seed in seeds:
            run = work / f"{name}-{seed}-{lr}"
            t0 = time.perf_counter()
            train(
                TrainConfig(
                    spec=str(ROOT / "specs" / "extra" / f"{name}.sgm"),
                    out=str(run),
                    steps=steps,
                    batch_size=256,
                    lr=lr,
                    betas=(0.5, 0.999),
                    seed=seed,
                    samples=0,
                    progress=False,
                    checkpoint_every=10**9,
                )
            )
            took = time.perf_counter() - t0
            rep = evaluate_run(run, ["modes", "mmd"], EvalSettings(n_samples=n_samples, seed=seed, permutations=100))
            modes = rep.results["modes"].value or {}
            mmd = rep.results["mmd"].value or {}
            row = {
                "seed": seed,
                "train_s": took,
                **{
                    k: modes[k]
                    for k in ("modes_covered", "modes_reached", "high_quality_fraction", "counts", "nearest_counts")
                },
                "mmd2": mmd["mmd2"],
            }
            out[name].append(row)
            print(
                f"  {name} seed {seed}: {row['modes_covered']}/8 modes covered, {row['modes_reached']}/8 reached, "
                f"high-quality {row['high_quality_fraction']:.3f}, MMD² {row['mmd2']:.4f}, "
                f"high-quality per mode {row['counts']}, nearest per mode {row['nearest_counts']} ({took:.0f} s)",
                flush=True,
            )
    return out


# -- 2. digits: compiled VAE vs a hand-written one -------------------------------------------------
class ReferenceVAE(nn.Module):
    """Kingma and Welling's VAE written by hand, with the networks of specs/vae.sgm."""

    def __init__(self, x_dim: int = 64, z_dim: int = 8, hidden: int = 256) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.enc = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, x_dim))

    def _q(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, torch.exp(0.5 * logvar)

    def _log_px_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(
            self.dec(z), x.expand(*z.shape[:-1], x.shape[-1]), reduction="none"
        ).sum(-1)

    def elbo(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"]
        mu, std = self._q(x)
        z = mu + std * torch.randn_like(std)
        kl = 0.5 * (mu**2 + std**2 - 1).sum(1) - torch.log(std).sum(1)
        return self._log_px_z(x, z) - kl

    def iw_bound(self, batch: dict[str, torch.Tensor], k: int) -> torch.Tensor:
        x = batch["x"]
        mu, std = self._q(x)
        eps = torch.randn(k, *mu.shape)
        z = mu + std * eps
        log_q = (-0.5 * eps**2 - torch.log(std) - 0.5 * LOG_2PI).sum(-1)
        log_p = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
        return torch.logsumexp(self._log_px_z(x, z) + log_p - log_q, 0) - math.log(k)


def _train_reference(train_x: torch.Tensor, steps: int, batch_size: int, seed: int) -> ReferenceVAE:
    torch.manual_seed(seed)
    model = ReferenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        perm = torch.randperm(len(train_x), generator=order)
        for i in range(0, len(perm), batch_size):
            if done == steps:
                break
            loss = -model.elbo({"x": train_x[perm[i : i + batch_size]]}).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
    return model.eval()


def digits(seeds: list[int], epochs: int, k: int, work: Path) -> list[dict]:
    from schemagm.train.run import load_run

    rows = []
    for seed in seeds:
        run = work / f"vae-{seed}"
        t0 = time.perf_counter()
        launched = train(
            TrainConfig(
                spec=str(ROOT / "specs" / "vae.sgm"),
                out=str(run),
                epochs=epochs,
                batch_size=64,
                lr=1e-3,
                seed=seed,
                samples=0,
                progress=False,
                checkpoint_every=10**9,
            )
        )
        t_compiled = time.perf_counter() - t0
        r = load_run(run)
        steps = r.step
        test = r.data.test
        batches = [{"x": test["x"][i : i + 100]} for i in range(0, len(test["x"]), 100)]
        t0 = time.perf_counter()
        ref = _train_reference(r.data.train["x"], steps, 64, seed)
        t_ref = time.perf_counter() - t0
        compiled = likelihood_bounds(r.model, batches, k=k, seed=seed)
        reference = likelihood_bounds(ref, batches, k=k, seed=seed)
        row: dict[str, Any] = {
            "seed": seed,
            "steps": steps,
            "compiled_elbo": compiled.elbo.mean,  # type: ignore[union-attr]
            "compiled_elbo_se": compiled.elbo.stderr,  # type: ignore[union-attr]
            "reference_elbo": reference.elbo.mean,  # type: ignore[union-attr]
            "reference_elbo_se": reference.elbo.stderr,  # type: ignore[union-attr]
            "compiled_iw": compiled.iw_bound.mean,  # type: ignore[union-attr]
            "reference_iw": reference.iw_bound.mean,  # type: ignore[union-attr]
            "train_s": (t_compiled, t_ref),
        }
        row["elbo_rel_diff"] = (row["compiled_elbo"] - row["reference_elbo"]) / abs(row["reference_elbo"])
        rows.append(row)
        del launched
        print(
            f"  seed {seed} ({steps} updates): test ELBO compiled {row['compiled_elbo']:.2f} ± "
            f"{row['compiled_elbo_se']:.2f}, "
            f"reference {row['reference_elbo']:.2f} ± {row['reference_elbo_se']:.2f} (rel. diff "
            f"{100 * row['elbo_rel_diff']:+.2f}%); "
            f"IW(k={k}) {row['compiled_iw']:.2f} vs {row['reference_iw']:.2f}; train {t_compiled:.0f} s vs "
            f"{t_ref:.0f} s",
            flush=True,
        )
    return rows


# -- 3. Gaussian mixture: compiled vs EM -------------------------------------------------------------------
def mixture(seeds: list[int], steps: int, work: Path, lr: float) -> list[dict]:
    from sklearn.mixture import GaussianMixture

    from schemagm.train.run import load_run

    rows = []
    for seed in seeds:
        run = work / f"gmm-{seed}"
        t0 = time.perf_counter()
        train(
            TrainConfig(
                spec=str(ROOT / "specs" / "extra" / "gmm.sgm"),
                out=str(run),
                steps=steps,
                batch_size=256,
                lr=lr,
                seed=seed,
                samples=0,
                progress=False,
                checkpoint_every=10**9,
            )
        )
        took = time.perf_counter() - t0
        r = load_run(run)
        train_x, test_x = r.data.train["x"], r.data.test["x"]
        dec = r.model.networks["p_theta"]
        k = 8
        with torch.no_grad():
            out = dec(torch.eye(k))
            mu, logvar = out[:, :2], out[:, 2:]
            d = test_x[:, None, :] - mu[None]
            comp = (-0.5 * d**2 / logvar.exp()[None] - 0.5 * logvar[None] - 0.5 * LOG_2PI).sum(-1) - math.log(k)
            exact = float(torch.logsumexp(comp, 1).mean())
            elbo = float(r.model.elbo({"x": test_x}).mean())
        em = GaussianMixture(k, covariance_type="diag", random_state=seed).fit(train_x.numpy())
        em_ll = float(em.score(test_x.numpy()))
        row = {
            "seed": seed,
            "exact": exact,
            "elbo": elbo,
            "em": em_ll,
            "rel": (exact - em_ll) / abs(em_ll),
            "train_s": took,
        }
        rows.append(row)
        print(
            f"  seed {seed}: test log-likelihood compiled {exact:.4f} (ELBO {elbo:.4f}), EM {em_ll:.4f}, rel. "
            f"diff {100 * row['rel']:+.2f}% ({took:.0f} s)",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["ring", "digits", "mixture", "all"], default="all")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=5000, help="updates per 2-D run")
    ap.add_argument(
        "--lr", type=float, default=1e-3, help="Adam learning rate of the 2-D runs (both models, every group)"
    )
    ap.add_argument("--n-samples", type=int, default=2500)
    ap.add_argument("--epochs", type=int, default=50, help="epochs of the digits VAEs")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--mixture-steps", type=int, default=3000, help="updates of the Gaussian mixture")
    ap.add_argument("--mixture-lr", type=float, default=3e-3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.part in ("ring", "all"):
            print(
                f"ring of 8 Gaussians: {args.steps} updates, batch 256, Adam lr {args.lr:g} betas (0.5, "
                f"0.999); {args.n_samples} samples"
            )
            res = ring(args.seeds, args.steps, args.n_samples, work, args.lr)
            print(
                "\n| model | modes covered (of 8), per seed | mean | modes reached, per seed | high-quality "
                "fraction, per seed | mean | MMD², mean |"
            )
            print("|---|---|---|---|---|---|---|")
            for name, rows in res.items():
                mc = [r["modes_covered"] for r in rows]
                mr = [r["modes_reached"] for r in rows]
                hq = [r["high_quality_fraction"] for r in rows]
                mmd = statistics.mean(r["mmd2"] for r in rows)
                print(
                    f"| {name} | {', '.join(map(str, mc))} | {statistics.mean(mc):.2f} | {', '.join(map(str, mr))} | "
                    f"{', '.join(f'{h:.3f}' for h in hq)} | {statistics.mean(hq):.3f} | {mmd:.4f} |"
                )
            print()
        if args.part in ("digits", "all"):
            print(
                f"digits VAE: {args.epochs} epochs, batch 64, Adam lr 1e-3; test split of the run (180 "
                f"digits); k = {args.k}"
            )
            rows = digits(args.seeds, args.epochs, args.k, work)
            diffs = [r["elbo_rel_diff"] for r in rows]
            print(
                f"\nmean test ELBO: compiled {statistics.mean(r['compiled_elbo'] for r in rows):.3f}, reference "
                f"{statistics.mean(r['reference_elbo'] for r in rows):.3f}; relative differences "
                f"{', '.join(f'{100 * d:+.2f}%' for d in diffs)}; "
                f"largest |diff| {100 * max(map(abs, diffs)):.2f}% (target < 1%)"
            )
        if args.part in ("mixture", "all"):
            steps = args.mixture_steps
            print(
                f"Gaussian mixture (K = 8) on the ring: {steps} updates, batch 256, Adam lr "
                f"{args.mixture_lr:g}; EM: scikit-learn, diagonal"
            )
            rows = mixture(args.seeds, steps, work, args.mixture_lr)
            print("\n| model | test log-likelihood per point, per seed | mean |")
            print("|---|---|---|")
            for label, key in (("gmm.sgm (exact)", "exact"), ("gmm.sgm (ELBO)", "elbo"), ("EM (scikit-learn)", "em")):
                vals = [r[key] for r in rows]
                print(f"| {label} | {', '.join(f'{v:.3f}' for v in vals)} | {statistics.mean(vals):.3f} |")
            print(f"largest |relative difference| {100 * max(abs(r['rel']) for r in rows):.2f}% (target < 2%)")


if __name__ == "__main__":
    main()
