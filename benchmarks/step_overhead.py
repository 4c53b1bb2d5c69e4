"""Step overhead of the compiled objective against hand-written training steps; compile time.

For every catalog spec, one full training step (every phase in order, the adversary's
``discriminator_steps`` times, one Adam per parameter group, backward + step) of the compiled
model is timed against a hand-written textbook step of the same model with the same networks
(copies of the compiled model's modules, same weights) on the same batch.  The two are run in
one process, interleaved (alternating which goes first), and the median over many repeats after
a warm-up is printed as a ratio compiled / hand-written.  Target: ratio <= 1.05.

The compile time of each spec (parse, check, build networks, derive the objective) is the median
of several compiles, measured after torch is imported.  Target: < 100 ms.

A ratio moves by a few per cent from one process to the next (where the allocator puts each
tensor, which cache sets they share), more than within one process: ``--processes N`` runs the
whole table in N fresh processes, one after the other, and prints each model's median ratio over
them with the lowest and highest.

    python benchmarks/step_overhead.py                 # CPU, batch 64
    python benchmarks/step_overhead.py --batch-size 128 --processes 3
    python benchmarks/step_overhead.py --device cuda --batch-size 256 --repeats 300
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from reference import losses as ref  # noqa: E402  (hand-written textbook formulas)
from reference.batches import batch_for  # noqa: E402

import schemagm  # noqa: E402

Step = Callable[[], None]


# -- hand-written steps: what a person would write for each model, with the same networks -------------
class Hand:
    """The compiled model's networks copied, one Adam per group, and textbook steps."""

    def __init__(self, model, batch: dict[str, Tensor], lr: float) -> None:
        self.nets = copy.deepcopy(model.networks)
        self.groups = {e.group for e in model.graph.edges if e.group}
        self.opt = {
            g: torch.optim.Adam(
                [p for e in model.graph.edges if e.group == g for p in self.nets[f"{e.label}_{g}"].parameters()], lr=lr
            )
            for g in self.groups
        }
        self.batch = batch
        self.options = model.graph.options
        self.graph = model.graph
        self.device = next(iter(batch.values())).device

    def n(self, key: str) -> torch.nn.Module:
        return self.nets[key]

    def gauss(self, key: str, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        out = self.nets[key](inputs[0] if len(inputs) == 1 else torch.cat(inputs, 1))
        mean, logvar = out.chunk(2, dim=1)
        return mean, torch.exp(0.5 * logvar)

    def update(self, loss: Tensor, *groups: str) -> None:
        for g in groups:
            self.opt[g].zero_grad(set_to_none=True)
        loss.backward()
        for g in groups:
            self.opt[g].step()

    def randn(self, *shape: int) -> Tensor:
        return torch.randn(*shape, device=self.device)

    # each returns a step closure
    def ae(self) -> Step:
        x, E, G = self.batch["x"], self.n("E_eta"), self.n("G_theta")
        return lambda: self.update(ref.recon_bce(torch.sigmoid(G(E(x))), x).mean(), "theta", "eta")

    def dae(self) -> Step:
        x, P = self.batch["x"], self.n("p_theta")
        k = self.options.walkback
        (corruption,) = [e for e in self.graph.edges if e.network is not None and e.network.name == "gaussian_noise"]
        std = float(corruption.network.args[0])

        def step() -> None:
            cur, total = x, cast(Any, 0.0)  # a tensor after the first step
            for r in range(k):
                logits = P(cur + std * torch.randn_like(cur))
                total = total + (-ref.log_bernoulli(x, logits).mean())
                if r + 1 < k:
                    cur = torch.bernoulli(torch.sigmoid(logits)).detach()
            self.update(total / k, "theta")

        return step

    def vae(self) -> Step:
        x, P = self.batch["x"], self.n("p_theta")
        beta = self.options.beta

        def step() -> None:
            mean, std = self.gauss("q_eta", x)
            z = mean + std * torch.randn_like(mean)
            loss = -ref.log_bernoulli(x, P(z)).mean() + beta * ref.kl_to_standard_normal(mean, std).mean()
            self.update(loss, "theta", "eta")

        return step

    beta_vae = vae

    def iwae(self) -> Step:
        x, P = self.batch["x"], self.n("p_theta")
        k = self.options.importance_samples
        return lambda: self.update(
            ref.iwae(lambda v: self.gauss("q_eta", v), P, x, self.randn(k, x.shape[0], 8))["eta"], "theta", "eta"
        )

    def _d_step(self, real: Tensor, fake: Callable[[], Tensor], D: torch.nn.Module) -> None:
        for _ in range(self.options.discriminator_steps):
            self.update(ref.discriminator_loss(D(real).reshape(-1), D(fake().detach()).reshape(-1)), "phi")

    def gan(self) -> Step:
        x, G, D = self.batch["x"], self.n("G_theta"), self.n("D_phi")
        n = x.shape[0]
        zdim = self.graph.nodes["z"].size

        def step() -> None:
            self._d_step(x, lambda: torch.sigmoid(G(self.randn(n, zdim))), D)
            self.update(F.softplus(-D(torch.sigmoid(G(self.randn(n, zdim)))).reshape(-1)).mean(), "theta")

        return step

    def iwgan(self) -> Step:
        x, G, D = self.batch["x"], self.n("G_theta"), self.n("D_phi")
        n, k = x.shape[0], self.options.importance_samples
        zdim = self.graph.nodes["z"].size

        def step() -> None:
            self._d_step(x, lambda: torch.sigmoid(G(self.randn(n, zdim))), D)
            lg = D(torch.sigmoid(G(self.randn(n, zdim)))).reshape(-1, k)
            self.update(-(torch.softmax(lg.detach(), 1) * F.logsigmoid(lg)).sum(1).mean(), "theta")

        return step

    def infogan(self) -> Step:
        x, G, D = self.batch["x"], self.n("G_theta"), self.n("D_phi")
        n, w = x.shape[0], self.options.mi_weight
        zdim = self.graph.nodes["z"].size

        def step() -> None:
            self._d_step(x, lambda: torch.sigmoid(G(self.randn(n, zdim))), D)
            z = self.randn(n, zdim)
            xg = torch.sigmoid(G(z))
            mean, std = self.gauss("Q_eta", xg)
            loss = F.softplus(-D(xg).reshape(-1)).mean() - w * ref.log_normal(z, mean, std).mean()
            self.update(loss, "theta", "eta")

        return step

    def aae(self) -> Step:
        x, E, D, P = self.batch["x"], self.n("E_eta"), self.n("D_phi"), self.n("p_theta")
        n, zdim = x.shape[0], self.graph.nodes["z"].size

        def step() -> None:
            for _ in range(self.options.discriminator_steps):
                self.update(
                    ref.discriminator_loss(D(self.randn(n, zdim)).reshape(-1), D(E(x).detach()).reshape(-1)), "phi"
                )
            code = E(x)
            loss = -ref.log_bernoulli(x, P(code)).mean() + F.softplus(-D(code).reshape(-1)).mean()
            self.update(loss, "theta", "eta")

        return step

    def ada(self) -> Step:
        z, y = self.batch["z"], self.batch["y"]
        G, D = self.n("G_theta"), self.n("D_phi")

        def step() -> None:
            src, tgt = z[y == 1], z[y == 0]  # a real step splits each new batch by domain
            for _ in range(self.options.discriminator_steps):
                self.update(
                    ref.discriminator_loss(D(G(src).detach()).reshape(-1), D(G(tgt).detach()).reshape(-1)), "phi"
                )
            loss = F.softplus(D(G(src)).reshape(-1)).mean() + F.softplus(-D(G(tgt)).reshape(-1)).mean()
            self.update(loss, "theta")

        return step

    def aavae(self) -> Step:
        x, P, D = self.batch["x"], self.n("p_theta"), self.n("D_phi")
        n, zdim, beta = x.shape[0], self.graph.nodes["z"].size, self.options.beta

        def step() -> None:
            self._d_step(x, lambda: torch.sigmoid(P(self.randn(n, zdim))), D)
            x_gen = torch.sigmoid(P(self.randn(n, zdim))).detach()
            total: Any = 0.0  # a tensor after the first sample
            for v in (x, x_gen):
                mean, std = self.gauss("q_eta", v)
                z = mean + std * torch.randn_like(mean)
                w = torch.sigmoid(D(v).reshape(-1)).detach()
                total = total + (w * (-ref.log_bernoulli(v, P(z)) + beta * ref.kl_to_standard_normal(mean, std))).mean()
            self.update(total, "theta", "eta")

        return step

    def wake_sleep(self) -> Step:
        x, Q, P = self.batch["x"], self.n("q_lambda"), self.n("p_theta")
        n, hdim = x.shape[0], self.graph.nodes["h"].size

        def step() -> None:
            h = torch.bernoulli(torch.sigmoid(Q(x))).detach()
            wake = -ref.log_bernoulli(x, P(h)).mean()
            hs = torch.bernoulli(torch.full((n, hdim), 0.5, device=self.device))
            xs = torch.bernoulli(torch.sigmoid(P(hs))).detach()
            sleep = -ref.log_bernoulli(hs, Q(xs)).mean()
            self.update(wake + sleep, "theta", "lambda")

        return step

    def mmd_net(self) -> Step:
        x, G = self.batch["x"], self.n("G_theta")
        n, zdim = x.shape[0], self.graph.nodes["z"].size
        (red,) = [e for e in self.graph.edges if e.kernel is not None]
        bw = [float(a) for a in red.kernel.args]

        def mmd2(a: Tensor, b: Tensor) -> Tensor:  # the same statistic, pairwise distances by torch.cdist
            def k(u: Tensor, v: Tensor) -> Tensor:
                d2 = torch.cdist(u, v).pow(2)
                return cast(Tensor, sum(torch.exp(-d2 / (2.0 * s * s)) for s in bw))

            return k(a, a).mean() + k(b, b).mean() - 2.0 * k(a, b).mean()

        return lambda: self.update(mmd2(x, torch.sigmoid(G(torch.rand(n, zdim, device=self.device) * 2 - 1))), "theta")


def compiled_step(model, batch: dict[str, Tensor], lr: float) -> Step:
    opts = {g: torch.optim.Adam(model.parameters_of(g), lr=lr) for g in model.groups}
    phases = [(p.name, p.groups, p.steps) for p in model.objective.phases]

    def step() -> None:
        for name, groups, steps in phases:
            for _ in range(steps):
                for g in groups:
                    opts[g].zero_grad(set_to_none=True)
                model.phase_loss(name, batch).backward()
                for g in groups:
                    opts[g].step()

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pair(
    a: Step, b: Step, repeats: int, warmup: int, device: torch.device, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float]:
    """Median seconds of a and b, interleaved, alternating which runs first."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for r in range(repeats):
        order = ((a, ta), (b, tb)) if r % 2 == 0 else ((b, tb), (a, ta))
        for f, out in order:
            sync(device)
            t0 = clock()
            f()
            sync(device)
            out.append(clock() - t0)
    return statistics.median(ta), statistics.median(tb)


def compile_time(path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        schemagm.compile(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier timings on a shared machine)"
    )
    parser.add_argument("--only", nargs="*", help="spec names to run (default: the whole catalog)")
    parser.add_argument(
        "--processes", type=int, default=1, help="run the table in this many fresh processes; the median ratio of each"
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a worker's lines, for --processes
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="cpu: this process's CPU time (steady on a busy machine; the default on CPU); wall: elapsed time "
        "(the default on a GPU)",
    )
    args = parser.parse_args()
    if args.processes > 1:
        return over_processes(args)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock_name = args.clock or ("cpu" if device.type == "cpu" else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter

    specs = sorted((ROOT / "specs").glob("*.sgm"))
    if args.only:
        specs = [p for p in specs if p.stem in args.only]
    schemagm.compile(specs[0])  # import everything once before timing compiles
    print(
        f"device {device}, batch {args.batch_size}, {args.repeats} repeats after {args.warmup} warm-up, torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), {clock_name} clock"
    )
    print(f"{'model':<11} {'compiled ms':>11} {'hand ms':>9} {'ratio':>7} {'compile ms':>11}")
    ratios = []
    for path in specs:
        name = path.stem
        torch.manual_seed(0)
        model = schemagm.compile(path).to(device)
        batch = {k: v.to(device) for k, v in batch_for(model.graph, n=args.batch_size).items()}
        hand = Hand(model, batch, lr=1e-4)
        a = compiled_step(model, batch, lr=1e-4)
        b = getattr(hand, name)()
        tc, th = time_pair(a, b, args.repeats, args.warmup, device, clock)
        ct = compile_time(path, 7)
        ratios.append(tc / th)
        if args.json:
            print(json.dumps({"model": name, "compiled": tc, "hand": th}), flush=True)
            continue
        flag = "" if tc / th <= 1.05 else "  > 1.05"
        print(f"{name:<11} {tc * 1e3:>11.3f} {th * 1e3:>9.3f} {tc / th:>7.3f} {ct * 1e3:>11.1f}{flag}", flush=True)
    if not args.json:
        print(f"{'median':<11} {'':>11} {'':>9} {statistics.median(ratios):>7.3f}")


def over_processes(args: argparse.Namespace) -> None:
    """The table in ``args.processes`` fresh processes, one after the other: per model the median
    ratio over them, and the lowest and highest."""
    cmd = [sys.executable, __file__, "--json", "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup), "--device", args.device, "--threads", str(args.threads)]
    cmd += (["--clock", args.clock] if args.clock else []) + (["--only", *args.only] if args.only else [])
    ratios: dict[str, list[float]] = {}
    for i in range(args.processes):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                ratios.setdefault(row["model"], []).append(row["compiled"] / row["hand"])
        print(f"process {i + 1} of {args.processes} done", flush=True)
    print(f"batch {args.batch_size}, {args.repeats} repeats in each of {args.processes} processes")
    print(f"{'model':<11} {'median':>7} {'lowest':>7} {'highest':>7}")
    medians = []
    for name, rs in ratios.items():
        med = statistics.median(rs)
        medians.append(med)
        flag = "" if med <= 1.05 else "  > 1.05"
        print(f"{name:<11} {med:>7.3f} {min(rs):>7.3f} {max(rs):>7.3f}{flag}")
    print(f"{'median':<11} {statistics.median(medians):>7.3f}")


if __name__ == "__main__":
    main()
