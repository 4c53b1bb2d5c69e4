"""M2 on digits with 10% of the labels (Kingma et al. 2014) against a classifier with the same
network trained on the labelled rows alone: test accuracy, 3 seeds, mean ± std (docs/quality.md §6).

    nice -n 10 python benchmarks/m2_labels.py                 # the protocol of docs/quality.md §6
    python benchmarks/m2_labels.py --seeds 0 --epochs 10      # a quick look

The protocol (per seed; the seed fixes the train/test split, the labelled rows, the validation rows
and the initialisation):

* the data are those of ``specs/extra/m2.sgm``: the built-in digits, 180 test rows, and of the 1617
  training rows ``partial(0.1)`` keeps the label on 10% of each class (159 to 162 rows);
* a validation split of ``--val`` rows is drawn from the unlabelled training rows; neither model
  trains on them, and both choose their best epoch on them (the accuracy of q_eta(c | x) there);
* M2 trains on every other training row with the objective the compiler derives from the spec,
  through schemagm's Trainer with ``labelled_batch`` (``schemagm train --labelled-batch 64``):
  each step reads a batch of ``--batch-size`` unlabelled rows together with ``--labelled-batch``
  labelled rows (the labelled rows cycle, reshuffled each pass), as Kingma et al. balance the two
  kinds of batch; an epoch is one pass over the unlabelled rows (the tail of a pass is dropped);
* the classifier alone is M2's own q_eta(c | x) network (``mlp(256) categorical``), freshly
  initialised, trained by cross-entropy on the same labelled rows, batch ``--labelled-batch``,
  the same Adam, for ``--clf-epochs`` passes over them (it overfits long before that), its best
  epoch chosen on the same validation rows;
* accuracy is the argmax of q_eta(c | x) on the test rows (``schemagm eval``'s ``accuracy``), at
  the best validation epoch (the last epoch's figure is printed too).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemagm.compiler import compile as compile_spec  # noqa: E402
from schemagm.graph.model import observed_key  # noqa: E402
from schemagm.train.config import TrainConfig  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402
from schemagm.train.trainer import Trainer  # noqa: E402

SPEC = ROOT / "specs" / "extra" / "m2.sgm"
Batch = dict[str, torch.Tensor]


@dataclass
class Result:
    best: float  # test accuracy at the best validation epoch
    last: float  # test accuracy after the last epoch
    epoch: int  # the best validation epoch (1-based)
    val: float  # its validation accuracy


class Tracker:
    """Test accuracy at the epoch of best validation accuracy (the earliest, on a tie)."""

    def __init__(self, val: Batch, test: Batch) -> None:
        self.val, self.test = val, test
        self.best = Result(0.0, 0.0, 0, -1.0)
        self.epoch = 0
        self.last = 0.0

    def __call__(self, infer) -> None:  # type: ignore[no-untyped-def]
        self.epoch += 1
        v, t = accuracy(infer, self.val), accuracy(infer, self.test)
        if v > self.best.val:
            self.best = Result(t, t, self.epoch, v)
        self.last = t

    def result(self) -> Result:
        return Result(self.best.best, self.last, self.best.epoch, self.best.val)


def describe(r: Result) -> str:
    return f"{r.best:.4f} (epoch {r.epoch}, val {r.val:.4f}, last {r.last:.4f})"


def accuracy(infer, rows: Batch) -> float:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        probs = infer(rows)
    return float((probs.argmax(-1) == rows["c"]).float().mean())


def spec_text(alpha: float | None = None, zdim: int | None = None, fraction: float | None = None) -> str:
    """m2.sgm, with another α (the ``weight=`` of the classifier's edge), size of z or labelled fraction."""
    text = SPEC.read_text(encoding="utf-8")
    if fraction is not None:
        text = text.replace("partial(0.1)", f"partial({fraction:g})")
    if alpha is not None:
        text = text.replace("categorical weight=10 ", f"categorical weight={alpha:g} ")
    if zdim is not None:
        text = text.replace("latent z : normal[8]", f"latent z : normal[{zdim}]")
    return text


def rows(data: Batch, idx: torch.Tensor) -> Batch:
    return {k: v[idx] for k, v in data.items()}


def splits(seed: int, n_val: int, fraction: float | None) -> tuple[Batch, torch.Tensor, torch.Tensor, Batch, Batch]:
    """The training rows, the labelled and unlabelled row indices, the validation and test rows."""
    graph = compile_spec(spec_text(fraction=fraction)).graph
    data = get_dataset(None, graph, seed=seed)
    seen = data.train[observed_key("c")]
    unlabelled = torch.nonzero(~seen).reshape(-1)
    unlabelled = unlabelled[torch.randperm(len(unlabelled), generator=torch.Generator().manual_seed(seed))]
    val = rows(data.train, unlabelled[:n_val])
    return data.train, torch.nonzero(seen).reshape(-1), unlabelled[n_val:], val, data.test


def run_m2(seed: int, args: argparse.Namespace) -> tuple[Result, int]:
    """M2 trained by schemagm's Trainer with ``labelled_batch`` (``train --labelled-batch``), one
    epoch at a time so that each epoch is scored on the validation rows."""
    train, lab, unl, val, test = splits(seed, args.val, args.fraction)
    torch.manual_seed(seed)
    model = compile_spec(spec_text(args.alpha, args.z, args.fraction))
    data = get_dataset(None, model.graph, seed=seed)  # the same split as splits(): data_seed = seed
    keep = torch.cat([lab, unl]).sort().values  # every training row but the validation rows
    source = dataclasses.replace(data, train=rows(train, keep))
    config = TrainConfig(
        spec=str(SPEC),
        batch_size=args.batch_size,
        labelled_batch=args.labelled_batch,
        lr=args.lr,
        seed=seed,
        progress=False,
        samples=0,
        log_every=10**9,
        checkpoint_every=10**9,
    )
    trainer = Trainer(model, source, config, run=None, spec_text="", model_name="m2")
    track = Tracker(val, test)
    for epoch in range(1, args.epochs + 1):
        trainer.config = config.model_copy(update={"epochs": epoch})
        model.train()
        trainer.fit()
        model.eval()
        track(lambda b: model.infer("c", b))
    return track.result(), len(lab)


def run_classifier(seed: int, args: argparse.Namespace) -> Result:
    train, lab, _, val, test = splits(seed, args.val, args.fraction)
    torch.manual_seed(seed + 100)
    net = compile_spec(SPEC).networks["q_eta"]  # M2's classifier network, freshly initialised
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(seed * 1000 + 2)
    x, c = train["x"][lab], train["c"][lab]
    track = Tracker(val, test)
    for _ in range(args.clf_epochs):
        net.train()
        for idx in torch.randperm(len(lab), generator=g).split(args.labelled_batch):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x[idx]), c[idx]).backward()
            opt.step()
        net.eval()
        track(lambda b: torch.softmax(net(b["x"]), -1))
    return track.result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=60, help="M2's passes over the unlabelled rows")
    ap.add_argument("--clf-epochs", type=int, default=300, help="the classifier's passes over the labelled rows")
    ap.add_argument("--batch-size", type=int, default=64, help="unlabelled rows per step")
    ap.add_argument("--labelled-batch", type=int, default=64, help="labelled rows per step")
    ap.add_argument("--val", type=int, default=160, help="validation rows, drawn from the unlabelled rows")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--alpha", type=float, default=None, help="the supervised weight (default: the spec's)")
    ap.add_argument("--z", type=int, default=None, help="the size of z (default: the spec's)")
    ap.add_argument("--fraction", type=float, default=None, help="the labelled fraction (default: the spec's, 0.1)")
    ap.add_argument("--no-baseline", action="store_true", help="M2 only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    m2s: list[Result] = []
    clfs: list[Result] = []
    start = time.perf_counter()
    for seed in args.seeds:
        m2, labelled = run_m2(seed, args)
        m2s.append(m2)
        line = f"seed {seed}: {labelled} labelled rows; M2 {describe(m2)}"
        if not args.no_baseline:
            clf = run_classifier(seed, args)
            clfs.append(clf)
            line += f"; classifier alone {describe(clf)}"
        print(line, flush=True)

    def fmt(v: list[float]) -> str:
        return f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.4f}"

    print(f"M2 test accuracy:                 {fmt([r.best for r in m2s])}  (last epoch {fmt([r.last for r in m2s])})")
    if clfs:
        best, last = fmt([r.best for r in clfs]), fmt([r.last for r in clfs])
        print(f"classifier on the labelled rows:  {best}  (last epoch {last})")
        gain = [m.best - c.best for m, c in zip(m2s, clfs, strict=True)]
        gain_last = [m.last - c.last for m, c in zip(m2s, clfs, strict=True)]
        wins = sum(d > 0 for d in gain)
        print(
            f"M2 minus classifier, per seed:    {fmt(gain)}  (last epoch {fmt(gain_last)}); "
            f"M2 ahead on {wins} of {len(gain)} seeds"
        )
    print(f"({len(args.seeds)} seeds, {args.epochs} epochs, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
