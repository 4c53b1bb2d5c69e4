"""M2 on digits with 10% of the labels (Kingma et al. 2014) against a classifier with the same
network trained on the labelled rows alone: test accuracy, 3 seeds, mean ± std (docs/quality.md).

    nice -n 10 python benchmarks/m2_labels.py                 # 3 seeds, 20 epochs
    python benchmarks/m2_labels.py --seeds 0 --epochs 5       # a quick look

Both models see the same labelled rows (``partial(0.1)`` of specs/extra/m2.sgm: 10% of each class
of the training split, chosen by the seed) and the same number of epochs over them; M2 also sees
the unlabelled rows. The classifier is M2's own q_eta(c | x) network (mlp(256) categorical),
freshly initialised, trained by cross-entropy; accuracy is the argmax of q_eta(c | x) on the test
rows (``schemagm eval``'s ``accuracy`` metric for M2).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemagm.compiler import compile as compile_spec  # noqa: E402
from schemagm.graph.model import observed_key  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402

SPEC = ROOT / "specs" / "extra" / "m2.sgm"


def accuracy(model, test: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        probs = model.infer("c", test)
    return float((probs.argmax(-1) == test["c"]).float().mean())


def spec_text(alpha: float | None) -> str:
    text = SPEC.read_text(encoding="utf-8")
    return text if alpha is None else text.replace("categorical weight=10", f"categorical weight={alpha!r}")


def run_m2(seed: int, epochs: int, batch_size: int, lr: float, alpha: float | None) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = compile_spec(spec_text(alpha))
    data = get_dataset(None, model.graph, seed=seed)
    opts = {g: torch.optim.Adam(model.parameters_of(g), lr=lr) for g in model.groups}
    for epoch in range(epochs):
        for b in data.iter_batches(batch_size, shuffle=True, seed=seed * 1000 + epoch):
            for o in opts.values():
                o.zero_grad(set_to_none=True)
            model.phase_loss("model", b).backward()
            for o in opts.values():
                o.step()
    labelled = int(data.train[observed_key("c")].sum())
    return accuracy(model, data.test), labelled


def run_classifier(seed: int, epochs: int, batch_size: int, lr: float) -> float:
    torch.manual_seed(seed + 100)
    model = compile_spec(SPEC)  # only its q_eta network is used: the same architecture
    data = get_dataset(None, model.graph, seed=seed)
    seen = data.train[observed_key("c")]
    x, c = data.train["x"][seen], data.train["c"][seen]
    net = model.networks["q_eta"]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = x.shape[0]
    steps_per_epoch = max(1, -(-int(data.train["x"].shape[0]) // batch_size))  # as many updates as M2
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs * steps_per_epoch):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x[idx]), c[idx]).backward()
        opt.step()
    return accuracy(model, data.test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--alpha", type=float, default=None, help="the supervised weight (default: the spec's, 10)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    m2s, clfs = [], []
    start = time.perf_counter()
    for seed in args.seeds:
        m2, labelled = run_m2(seed, args.epochs, args.batch_size, args.lr, args.alpha)
        clf = run_classifier(seed, args.epochs, args.batch_size, args.lr)
        m2s.append(m2)
        clfs.append(clf)
        print(f"seed {seed}: {labelled} labelled rows; M2 {m2:.4f}, classifier alone {clf:.4f}", flush=True)

    def fmt(v: list[float]) -> str:
        return f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.4f}"

    print(f"M2 test accuracy:                 {fmt(m2s)}")
    print(f"classifier on the labelled rows:  {fmt(clfs)}")
    print(f"({len(args.seeds)} seeds, {args.epochs} epochs, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
