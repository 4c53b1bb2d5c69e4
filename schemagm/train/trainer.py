"""The training loop: one optimiser per parameter group, phases in the objective's order.

Each step (one update of the model phase) runs the compiled objective's phases
in order -- the adversary phase (phi) first, ``discriminator_steps`` times, then
the model phase (theta, eta, lambda) once -- each phase step on a fresh batch::

    for phase in model.objective.phases:          # e.g. [adversary(phi) x k, model(theta, eta)]
        for _ in range(phase.steps):
            loss = model.phase_loss(phase.name, next batch)
            backward; average gradients over ranks; step the optimisers of phase.groups

A term has zero gradient for a group it does not update, so one backward pass
gives each group of the phase its own gradient; the other groups' gradients are
cleared before every backward and their optimisers are not stepped.

What is written (rank 0 only): ``metrics.jsonl`` every ``log_every`` steps
(phase losses of the last step averaged over ranks; per-group losses and per-term
values as means over the steps since the previous line, read off the steps'
own computations: :mod:`.interval`), a picture of samples at the end of epochs 1, 2, 5, 10, 20, 50, ... and
of the run (of test rows and their reconstructions where the model cannot sample),
``checkpoints/last.pt`` and ``step-N.pt`` every ``checkpoint_every`` steps and at
the end.  Pictures and logged values are computed under a forked RNG, so they
never change the training's random stream: a resumed run takes exactly the
steps the uninterrupted run would take.  A loss that is NaN or infinite stops
the run before it can damage the weights; the last checkpoint stays as it was.
Ctrl-C (SIGINT) finishes the current step, saves ``last.pt`` and stops, so that
``--resume`` continues exactly; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch

from ..errors import SpecError
from ..suggest import did_you_mean
from .checkpoint import check_compatible, nonfinite_entries, rng_state, save_checkpoints, set_rng_state
from .config import TrainConfig
from .data import BatchStream, DataSource
from .distributed import DistInfo, average_gradients, gather_objects, mean_across
from .interval import IntervalMeans
from .loggers.base import RunLogger, scalars_of
from .optim import GroupOptimizer, step_together
from .pictures import load_png_writer, save_png
from .rundir import MetricsFile, RunDir
from .sampling import draw_reconstructions, draw_samples

__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "loss_label", "make_optimizers", "picture_epoch"]


PICTURES = {"sample": draw_samples, "reconstruct": draw_reconstructions}


def picture_epoch(epoch: int) -> bool:
    """Whether the end of ``epoch`` gets a picture: epochs 1, 2, 5, 10, 20, 50, 100, ... (and the
    run's end gets last.png).  A picture costs about as much as a few training steps, so one per
    epoch of a small data set was a quarter of the training clock; this keeps it to a few per cent
    while still showing the start, the middle and the end of a run."""
    while epoch % 10 == 0:
        epoch //= 10
    return epoch in (1, 2, 5)


def loss_label(group: str) -> str:
    """How a group's loss is named in the progress bar and the summary: ``L_theta`` (``eta 24.86``
    would read as time remaining)."""
    return f"L_{group}"


class TrainingDiverged(SpecError):
    """A loss became NaN or infinite; the message says where and which checkpoint is kept."""


class TrainableModel(Protocol):  # what the trainer needs of a CompiledModel
    groups: list[str]
    objective: Any

    def parameters_of(self, group: str) -> list[torch.nn.Parameter]: ...
    def phase_loss(self, phase: str, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def terms(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def sample(self, n: int, mean: bool = True) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainResult:
    status: str  # "finished" | "diverged" | "interrupted"
    step: int
    epoch: int
    last_losses: dict[str, float] = field(default_factory=dict)  # per phase, as optimised
    seconds: float = 0.0  # training clock since step 0, over every session of the run
    message: str = ""
    group_losses: dict[str, float] = field(default_factory=dict)  # per group, of the last logged step
    session_seconds: float = 0.0  # training clock of this session (less than ``seconds`` after a resume)


def make_optimizers(model: TrainableModel, config: TrainConfig) -> dict[str, GroupOptimizer]:
    """One optimiser per parameter group, with its own learning rate: torch's Adam, RMSprop or SGD
    update with its multi-tensor ("foreach") kernels (optim.py), bitwise the parameters of the
    one-tensor-at-a-time default."""
    unknown = sorted(set(config.group_lr) - set(model.groups))
    if unknown:
        raise SpecError(
            f"--lr names group(s) {', '.join(unknown)} that the model does not have",
            hint=did_you_mean(unknown[0], model.groups)
            + f"the model's parameter groups: {', '.join(model.groups) or 'none'}",
        )
    optimizers: dict[str, GroupOptimizer] = {}
    for group in model.groups:
        params = list(model.parameters_of(group))
        if not params:
            continue
        settings: dict[str, Any] = {"lr": config.lr_of(group), "foreach": True}
        if config.optimizer == "adam":
            settings["betas"] = config.betas
        optimizers[group] = GroupOptimizer(config.optimizer, params, **settings)
    if not optimizers and not getattr(model, "nonparametric", False):
        raise SpecError("the model has no parameters to train (no edge has a parameter group)")
    return optimizers


@contextmanager
def _side_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Draw from a separate, seeded stream; the training RNG is untouched afterwards.

    On the CPU only the CPU generator draws, so only it is saved, seeded and restored
    (``torch.manual_seed`` and ``fork_rng`` also visit every other backend: a third of a
    millisecond, every metrics line)."""
    if device.type == "cpu":
        gen = torch.default_generator
        state = gen.get_state()
        gen.manual_seed(seed)
        try:
            yield
        finally:
            gen.set_state(state)
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _stream(model: TrainableModel, data: DataSource, config: TrainConfig, dist: DistInfo) -> Any:
    """The batches: plain ones, or with ``labelled_batch`` labelled rows added to each (data/labelled.py)."""
    if not config.labelled_batch:
        return BatchStream(data.train, config.batch_size, config.seed, dist.rank, dist.world_size)
    from ..graph.model import observed_key
    from .data.labelled import LabelledBatchStream

    graph = getattr(model, "graph", None)
    masks = [observed_key(n.name) for n in (graph.nodes.values() if graph is not None else ()) if n.partial]
    masks = [k for k in masks if k in data.train]
    args = (config.batch_size, config.labelled_batch, config.seed, dist.rank, dist.world_size)
    return LabelledBatchStream(data.train, masks, *args)


class Trainer:
    def __init__(
        self,
        model: TrainableModel,
        data: DataSource,
        config: TrainConfig,
        *,
        run: RunDir | None,
        spec_text: str,
        model_name: str,
        device: torch.device | None = None,
        dist: DistInfo | None = None,
        console: Any = None,
    ) -> None:
        self.model = model
        self.data = data
        self.config = config
        self._metrics: MetricsFile | None = None
        self.run = run
        self.spec_text = spec_text
        self.model_name = model_name
        self.device = device or torch.device("cpu")
        self.dist = dist or DistInfo()
        self.console = console
        self.optimizers = make_optimizers(model, config)  # per group
        self.phases = list(model.objective.phases)
        # per phase: its groups that have parameters, and every trained parameter (their gradients
        # are cleared before each backward pass: what each optimiser's zero_grad(set_to_none=True) does)
        self._phase_groups = {p.name: [g for g in p.groups if g in self.optimizers] for p in self.phases}
        self._params = [p for opt in self.optimizers.values() for grp in opt.param_groups for p in grp["params"]]
        # what each phase steps: its groups' optimisers, those with equal settings in one call (optim.py)
        self._steppers = {name: [self.optimizers[g] for g in groups] for name, groups in self._phase_groups.items()}
        self.stream = _stream(model, data, config, self.dist)
        self._batches_on_device: bool | None = None  # whether the stream's batches need no move (_to_device)
        self.step = 0
        self.elapsed = 0.0
        self.last_phase_losses: dict[str, float] = {}
        self._picture_ok = config.samples > 0
        if self._picture_ok:
            load_png_writer()
        self._picture_kinds = ["sample", "reconstruct"]
        self.saved_step: int | None = None  # step of the checkpoint last written
        self._interrupted = False
        self._saving = False
        self._stop_now = False
        self._pending: list[tuple[Path, Path]] = []  # checkpoint files written, waiting for the next finite loss
        self._pending_step: int | None = None
        self.kept_step: int | None = None  # step of the checkpoint in place (last.pt)
        self.last_group_losses: dict[str, float] = {}
        self.logger = RunLogger()  # an experiment tracker (--logger); metrics.jsonl is written regardless
        # the metrics lines' means over their interval, from the steps' own term values (rank 0, which writes
        # them); a model without ``run`` (one call's state and its ``results``) is evaluated afresh instead
        self.interval: IntervalMeans | None = None
        if self.dist.is_main and callable(getattr(model, "run", None)):
            interval = IntervalMeans(model.objective, list(model.groups))
            self.interval = interval if interval.complete else None

    # -- state -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        rng = rng_state()
        ranks = gather_objects(rng["torch"], self.dist)
        if self.dist.enabled:
            rng["ranks"] = [r for r in ranks]  # every rank's torch RNG, to resume each rank exactly
        state = {
            "model_name": self.model_name,
            "spec": self.spec_text,
            "config": self.config.to_dict(),
            "step": self.step,
            "epoch": self.stream.epoch,
            "stream": self.stream.state_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},  # type: ignore[attr-defined]
            "optimizers": self._optimizer_states(),
            "rng": rng,
            "elapsed": self.elapsed,
        }
        if self.interval is not None:  # the sums of the metrics line in progress (a resume goes on with them)
            state["metrics_interval"] = self.interval.state_dict()
        return state

    def _optimizer_states(self) -> dict[str, Any]:
        """Each group's optimiser state, as torch's optimiser of that group would give it."""
        return {g: o.state_dict() for g, o in self.optimizers.items()}

    def load_state(self, ckpt: dict[str, Any], where: str) -> None:
        """Continue from a checkpoint: weights, optimisers, data position, RNG, counters."""
        check_compatible(ckpt["model"], self.model, where)  # type: ignore[arg-type]
        self.model.load_state_dict(ckpt["model"])  # type: ignore[attr-defined]
        missing = sorted(set(self.optimizers) - set(ckpt["optimizers"]))
        if missing:
            raise SpecError(f"checkpoint '{where}' has no optimiser state for group(s) {', '.join(missing)}")
        for group, opt in self.optimizers.items():
            try:
                opt.load_state_dict(ckpt["optimizers"][group])
            except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
                raise SpecError(
                    f"checkpoint '{where}': the optimiser state of group '{group}' does not fit: {exc}"
                ) from None
        self.stream.load_state_dict(ckpt["stream"])
        self.step = int(ckpt["step"])
        self.saved_step = self.step
        self.kept_step = self.step
        self.elapsed = float(ckpt.get("elapsed", 0.0))
        if self.interval is not None:
            self.interval.load_state_dict(ckpt.get("metrics_interval"), self.device)
        rng = dict(ckpt["rng"])
        if self.dist.enabled and "ranks" in rng and len(rng["ranks"]) == self.dist.world_size:
            rng["torch"] = rng["ranks"][self.dist.rank]
        set_rng_state(rng)

    def save(self, periodic: bool = False, pending: bool = False) -> None:
        """Write the checkpoint -- only a state worth keeping.

        Non-finite weights stop the run instead.  With ``pending`` (a checkpoint inside the loop) the
        files are written whole but moved into place only once the next step's first loss, computed
        with these weights, is finite (:meth:`_commit`); a run that diverges then keeps the previous one.
        """
        state = self.state()  # every rank takes part (RNG gather)
        bad = nonfinite_entries(state["model"])
        if bad:
            raise TrainingDiverged(
                f"training stopped after step {self.step} (epoch {self.stream.epoch}): the weights "
                f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} are no longer finite numbers; {self._kept()}"
            )
        self.saved_step = self.step  # on every rank, so that all ranks agree on the next save
        if self.run is None or not self.dist.is_main:
            return
        self._commit()  # an earlier pending checkpoint (none unless a step was skipped)
        self._saving = True  # a second Ctrl-C now waits for the file to be complete
        try:
            targets = ([self.run.periodic(self.step)] if periodic else []) + [self.run.last]
            written = save_checkpoints(targets, state, pending=pending)  # serialised once for both files
            if pending:
                self._pending.extend(zip(written, targets, strict=True))
                self._pending_step = self.step
            else:
                self.kept_step = self.step
        finally:
            self._saving = False
        if self._stop_now:
            raise KeyboardInterrupt

    def _commit(self) -> None:
        """Move the pending checkpoint files into place (the state proved good)."""
        from ..fileio import commit

        for tmp, target in self._pending:
            commit(tmp, target)
        if self._pending:
            self.kept_step = self._pending_step
        self._pending = []

    def _discard(self) -> None:
        from ..fileio import discard

        for tmp, _ in self._pending:
            discard(tmp)
        self._pending = []

    # -- the loop --------------------------------------------------------------------------
    def _done(self) -> bool:
        c = self.config
        if c.steps is not None and self.step >= c.steps:
            return True
        limit = c.stop_epochs
        return limit is not None and self.stream.epoch >= limit

    def _total_steps(self) -> int | None:
        c = self.config
        per_step = sum(p.steps for p in self.phases)
        totals = []
        if c.steps is not None:
            totals.append(c.steps)
        if c.stop_epochs is not None:
            totals.append(math.ceil(c.stop_epochs * self.stream.per_epoch / per_step))
        return min(totals) if totals else None

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self._batches_on_device is None:  # the stream's rows live on one device: look once
            self._batches_on_device = all(v.device == self.device for v in batch.values())
        if self._batches_on_device:
            return batch
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def train_step(self) -> dict[str, torch.Tensor]:
        """One update of every phase; returns the last batch. Raises TrainingDiverged on NaN/inf."""
        batch: dict[str, torch.Tensor] = {}
        for phase in self.phases:
            groups = self._phase_groups[phase.name]
            for _ in range(phase.steps):
                batch = self._to_device(self.stream.next())
                call: Any = batch if self.interval is None else self.model.run(batch)  # type: ignore[attr-defined]
                loss = self.model.phase_loss(phase.name, call)
                if self.interval is not None and not self.interval.add(phase.name, call.results):
                    self.interval = None  # a term the call did not keep: metrics lines evaluate afresh
                value = float(mean_across(loss, self.dist))
                if not math.isfinite(value):
                    self._discard()
                    raise TrainingDiverged(self._divergence_message(phase, value))
                if self._pending:
                    self._commit()  # the weights of the last checkpoint give a finite loss: keep it
                for p in self._params:
                    p.grad = None
                loss.backward()
                if self.dist.enabled:
                    params = [p for g in groups for p in self.model.parameters_of(g)]
                    average_gradients(params, self.dist.world_size)
                step_together(self._steppers[phase.name])
                self.last_phase_losses[phase.name] = value
        self.step += 1
        return batch

    def _kept(self) -> str:
        if self.run is not None and self.kept_step is not None and self.run.last.exists():
            return f"'{self.run.last}' (step {self.kept_step}, the last good state) is kept as it was"
        return "no checkpoint is written without a run directory"

    def _divergence_message(self, phase: Any, value: float) -> str:
        return (
            f"training stopped at step {self.step + 1} (epoch {self.stream.epoch}): the loss of phase "
            f"'{phase.name}' (groups {', '.join(phase.groups)}) is {value}; {self._kept()}"
        )

    @property
    def run(self) -> RunDir | None:
        """The run directory (None: nothing is written); its metrics.jsonl is open while :meth:`fit` runs."""
        return self._run

    @run.setter
    def run(self, run: RunDir | None) -> None:
        if self._metrics is not None:
            self._metrics.close()
        self._run = run
        self._metrics = MetricsFile(run.metrics) if run is not None else None

    def fit(self) -> TrainResult:
        try:
            return self._fit()
        finally:
            if self._metrics is not None:
                self._metrics.close()

    def _fit(self) -> TrainResult:
        if getattr(self.model, "nonparametric", False):
            if not self.optimizers:
                return self._memorise()
            if self.step == 0:  # points and parameters (a learned kernel): the points first
                self._note(str(self.model.fit(self.data.train)))  # type: ignore[attr-defined]
        start = time.perf_counter() - self.elapsed
        before = self.elapsed
        if self.step == 0:
            self.save()  # the initial state: a diverging run always leaves a good checkpoint
        progress = self._progress()
        task = None
        if progress is not None:
            progress.start()
            task = progress.add_task(self.model_name, total=self._total_steps(), completed=self.step, losses="")
        batch: dict[str, torch.Tensor] = {}
        previous_handler = self._catch_interrupt()
        status = "finished"
        try:
            while not self._done():
                epoch_before = self.stream.epoch
                batch = self.train_step()
                self.elapsed = time.perf_counter() - start
                if self.step % self.config.log_every == 0:
                    self._log(batch)
                if self.step % self.config.checkpoint_every == 0:
                    self.save(periodic=True, pending=True)
                for epoch in range(epoch_before + 1, self.stream.epoch + 1):
                    if picture_epoch(epoch):
                        self._picture(f"epoch-{epoch:04d}.png", seed=epoch)
                if progress is not None and task is not None:
                    progress.update(task, completed=self.step, losses=self._shown_losses())
                if self._interrupt_agreed():
                    status = "interrupted"
                    break
        except BaseException as exc:
            self._discard()  # an untested checkpoint is not kept
            if not isinstance(exc, TrainingDiverged):
                raise
            if progress is not None:
                progress.stop()
            self.elapsed = time.perf_counter() - start
            return self._result("diverged", before, exc.message)
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        if progress is not None:
            progress.stop()
        self.elapsed = time.perf_counter() - start
        if batch and self.step % self.config.log_every != 0 and status != "interrupted":
            self._log(batch)  # an interrupted run logs on its usual steps only: resuming it gives the same lines
        try:
            if self.saved_step != self.step:
                self.save()
            self._commit()  # the final state: no further step can test it
        except TrainingDiverged as exc:
            return TrainResult(
                "diverged", self.step, self.stream.epoch, dict(self.last_phase_losses), self.elapsed, exc.message
            )
        self._picture("last.png", seed=10**6)
        message = ""
        if status == "interrupted":
            where = f"'{self.run.last}'" if self.run is not None else "no checkpoint (no run directory)"
            message = f"interrupted after step {self.step} (epoch {self.stream.epoch}); the state is saved in {where}"
        return self._result(status, before, message)

    def _memorise(self) -> TrainResult:
        """A model without parameters (a kernel density) learns by keeping the training points: no
        gradient step, one checkpoint with the points."""
        start = time.perf_counter() - self.elapsed
        before = self.elapsed
        done = self.model.fit(self.data.train)  # type: ignore[attr-defined]
        self.elapsed = time.perf_counter() - start
        self.save()
        self._commit()
        self._picture("last.png", seed=10**6)
        message = f"'{self.model_name}' has no parameters to train: {done} (no gradient steps)"
        return self._result("finished", before, message)

    def _result(self, status: str, before: float, message: str) -> TrainResult:
        return TrainResult(
            status,
            self.step,
            self.stream.epoch,
            dict(self.last_phase_losses),
            self.elapsed,
            message,
            group_losses=dict(self.last_group_losses),
            session_seconds=self.elapsed - before,
        )

    def _shown_losses(self) -> str:
        """The progress bar's losses: per group as ``L_theta=0.83`` once logged, per phase before."""
        if self.last_group_losses:
            return "  ".join(f"{loss_label(g)}={v:.4g}" for g, v in self.last_group_losses.items())
        return "  ".join(f"{p} phase={v:.4g}" for p, v in self.last_phase_losses.items())

    # -- Ctrl-C: finish the step, save, stop ------------------------------------------------------
    def _catch_interrupt(self) -> Any:
        """The first SIGINT asks to stop after the current step (a second one stops at once)."""
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if self._interrupted:
                if self._saving:  # never tear a checkpoint: stop once it is written
                    self._stop_now = True
                    return
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            self._interrupted = True

        signal.signal(signal.SIGINT, handler)
        return previous

    def _interrupt_agreed(self) -> bool:
        """Whether any rank was interrupted (all ranks stop after the same step)."""
        if not self.dist.enabled:
            return self._interrupted
        flag = torch.tensor(1.0 if self._interrupted else 0.0, device=self.device)
        return bool(mean_across(flag, self.dist) > 0)

    # -- what is written --------------------------------------------------------------------
    def _progress(self) -> Any:
        if not self.config.progress or not self.dist.is_main:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[losses]}"),
            console=self.console,
            transient=False,
        )

    def _log(self, batch: dict[str, torch.Tensor]) -> None:
        if not self.dist.is_main or self.run is None:
            return
        record: dict[str, Any] = {
            "step": self.step,
            "epoch": self.stream.epoch,
            "phase_losses": dict(self.last_phase_losses),
        }
        if self.interval is not None and self.interval.ready():
            record["losses"], record["terms"] = self.interval.read()  # means over the steps since the last line
            self.interval.reset()
        else:  # a model without per-call results: its losses on the last batch after the update
            with _side_rng(self.device, self.config.seed + self.step):
                both = getattr(self.model, "losses_and_terms", None)  # one evaluation for both (same draws)
                losses, terms = both(batch) if both is not None else (self.model.losses(batch), self.model.terms(batch))
                record["losses"] = {g: float(v.detach()) for g, v in losses.items()}
                record["terms"] = {t: float(v.detach()) for t, v in terms.items()}
        self.last_group_losses = record["losses"]
        record["time"] = round(self.elapsed, 4)
        cast(MetricsFile, self._metrics).append(record)
        self.logger.log_scalars(self.step, scalars_of(record))

    def _picture(self, name: str, seed: int) -> None:
        """Samples of the first data node; reconstructions of test rows where the model cannot sample."""
        if not self._picture_ok or not self.dist.is_main or self.run is None:
            return
        picture = None
        with _side_rng(self.device, self.config.seed * 7919 + seed):
            for kind in self._picture_kinds:
                try:
                    _, picture = PICTURES[kind](self.model, self.data, self.config.samples)
                except (SpecError, NotImplementedError):
                    picture = None
                if picture is not None:
                    self._picture_kinds = [kind]  # keep to what works
                    break
        if picture is None:
            self._picture_ok = False
            self._note(
                f"no pictures: the model can neither sample nor reconstruct '{self.data.primary}' as images or "
                "2-D points"
            )
            return
        save_png(picture, self.run.samples / name)
        tag = {"sample": "samples", "reconstruct": "reconstructions"}[self._picture_kinds[0]]
        self.logger.log_image(self.step, tag, picture)

    def _note(self, text: str) -> None:
        if self.console is not None:
            self.console.print(f"[yellow]{text}[/yellow]")
