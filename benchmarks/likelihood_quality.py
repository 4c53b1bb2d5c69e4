"""Likelihood is not sample quality (Theis et al. 2016): the kernel density reference and the
1 % model / 99 % noise mixture, side by side, on ring8 and digits.

* ring8 (continuous): exact test log-likelihood in nats and bits/dim, modes covered and the
  high-quality fraction of 2000 samples (within 3 std of a mode).
* digits (17 grey levels): bits/dim of the integer data through the uniform-dequantization bound
  log P(x) ≥ E_u log p(x + u/16) − 64 log 16 (the scale of specs/extra/dequant_flow.sgm), and
  the inception score and FID of 1000 samples under the project's digits classifier.

The kernel density is (1/N) Σ N(x; x_i, ε² I) on the training split; ε = "small" (samples are
near copies of training points) and ε chosen by likelihood on a held-out part of the training
split; the mixture is 1 % of that best kernel density and 99 % uniform noise on the data's box.

    python benchmarks/likelihood_quality.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from schemagm.evaluate.density import KernelDensity, reference_model  # noqa: E402
from schemagm.evaluate.report import EvalSettings, evaluate  # noqa: E402
from schemagm.graph.build import parse  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402

SPEC = {
    "ring8": "model ring\ndata x : real[2] from ring8\nlatent z : normal[2]\nz <-> x : f_theta = realnvp(8)\n",
    "digits": "model digits\ndata x : real[64] in [0, 1] from digits\nlatent v : real[64]\nlatent z : normal[64]\nx "
    "--> v : dequantize(16)\nz <-> v : f_theta = realnvp(8)\n",
}


def best_epsilon(train: torch.Tensor, grid: list[float]) -> float:
    n = train.shape[0]
    fit, held = train[: int(0.8 * n)], train[int(0.8 * n) :]
    scores = {e: float(KernelDensity("x", fit, e).log_likelihood({"x": held}).mean()) for e in grid}
    return max(scores, key=scores.get)  # type: ignore[arg-type]


def dequantized_bpd(model: Any, x: torch.Tensor) -> float:
    torch.manual_seed(0)
    v = x + torch.rand_like(x) / 16
    bound = model.log_likelihood({"x": v}).double().mean() - 64 * math.log(16)  # − log q(v | x)
    return float(-bound / (64 * math.log(2)))


def main() -> None:
    torch.manual_seed(0)
    print("| data | model | test log-likelihood | bits/dim | sample quality |")
    print("|---|---|---|---|---|")
    for name in ("ring8", "digits"):
        graph = parse(SPEC[name])
        data = get_dataset(None, graph, seed=0, test_fraction=0.1)
        train, test = data.train["x"].float(), data.test["x"].float()
        if name == "digits":
            train = train + 1 / 32  # kernels at the centres of the dequantization bins
            grid = [0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15]
        else:
            grid = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        best = best_epsilon(train, grid)
        small = 0.0005 if name == "ring8" else 0.005
        models = {
            f"kde ε = {small}": reference_model("kde", "x", train, epsilon=small),
            f"kde ε = {best} (best on held-out)": reference_model("kde", "x", train, epsilon=best),
            f"1 % kde (ε = {best}) + 99 % noise": reference_model(
                "mixture", "x", train, epsilon=best, bounds=(0.0, 17 / 16) if name == "digits" else None
            ),
        }
        for label, model in models.items():
            if name == "ring8":
                r = evaluate(model, graph, data, ("bpd", "modes"), EvalSettings(n_samples=2000, seed=0))
                b, m = r.results["bpd"].value, r.results["modes"].value
                assert b is not None and m is not None
                print(
                    f"| ring8 | {label} | {b['mean']:.3f} nats | {b['bits_per_dim']:.3f} | {m['modes_covered']}/8 "
                    f"modes, high-quality {m['high_quality_fraction']:.3f} |"
                )
            else:
                bpd = dequantized_bpd(model, test)
                r = evaluate(model, graph, data, ("inception", "fid"), EvalSettings(n_samples=1000, seed=0))
                i, f = r.results["inception"].value, r.results["fid"].value
                assert i is not None and f is not None, (r.results["inception"].reason, r.results["fid"].reason)
                print(
                    f"| digits | {label} | {-bpd * 64 * math.log(2):.1f} nats (bound) | {bpd:.3f} | inception "
                    f"{i['inception_score']:.2f}, FID {f['fid']:.2f} |"
                )


if __name__ == "__main__":
    main()
