"""The training configuration: CLI flags or a TOML file (flags override the file).

Every key, with its default (the TOML file uses the same names)::

    spec             = "specs/vae.sgm"  # the spec trained (required)
    data             = "ring8"          # a built-in set or a path; default: the spec's `from` clauses
                                        # (or a table, one source per data node: [data] x = "imgs.idx" ...)
    out              = "runs/vae"       # run directory; default runs/<model>-<timestamp>
    epochs           = 10               # passes over the training split (default when steps is unset)
    steps            = 1000             # updates of the model phase; training stops at whichever comes first
    batch_size       = 64
    labelled_batch   = 0                # N > 0: each batch also gets N labelled rows, cycling (a spec
                                        # with a `partial` node; batch_size counts unlabelled rows)
    optimizer        = "adam"           # adam | sgd | rmsprop, one optimiser per parameter group
    lr               = 1e-3             # learning rate of every group ...
    betas            = [0.9, 0.999]     # Adam's betas
    seed             = 0                # weights, noise and data order
    data_seed        = 0                # the train/test split
    test_fraction    = 0.1
    device           = "cpu"            # cpu | cuda | cuda:N
    threads          = 1                # CPU threads per process (default: 1, or torch's choice for a
                                        # model of 30M parameters or more; see schemagm/train/threads.py)
    log_every        = 10               # steps between metrics.jsonl lines (losses and terms: means over them)
    checkpoint_every = 500              # steps between checkpoints/step-N.pt (and last.pt)
    samples          = 64               # samples in the pictures of epochs 1, 2, 5, 10, 20, 50, ...; 0 for none
    progress         = true             # live progress bar
    logger           = "none"           # none | tensorboard | mlflow | wandb (metrics.jsonl is always written)

    [group_lr]                          # ... or per parameter group
    theta = 1e-3
    phi   = 2e-4
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import SpecError
from ..limits import MAX_CONFIG_BYTES, MAX_SEED
from ..suggest import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

__all__ = ["TrainConfig", "load_config", "parse_lr_flags", "parse_data_flags", "config_toml"]


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: str
    data: str | dict[str, str] | None = None
    out: str | None = None
    epochs: int | None = Field(None, ge=1)
    steps: int | None = Field(None, ge=1)
    batch_size: int = Field(64, ge=1)
    labelled_batch: int = Field(0, ge=0)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    lr: float = Field(1e-3, gt=0)
    group_lr: dict[str, float] = Field(default_factory=dict)
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    data_seed: int = Field(0, ge=0, le=MAX_SEED)
    test_fraction: float = Field(0.1, ge=0, lt=1)
    device: str = "cpu"
    threads: int | None = Field(None, ge=1)
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    samples: int = Field(64, ge=0)
    progress: bool = True
    logger: Literal["none", "tensorboard", "mlflow", "wandb"] = "none"

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        for group, value in self.group_lr.items():
            if not value > 0:
                raise ValueError(f"learning rate of group '{group}' must be positive, got {value}")
        if not (0 <= self.betas[0] < 1 and 0 <= self.betas[1] < 1):
            raise ValueError(f"betas must lie in [0, 1), got {list(self.betas)}")
        return self

    @property
    def stop_epochs(self) -> int | None:
        """Epoch limit: the given one, or 10 when neither epochs nor steps is given."""
        return self.epochs if self.epochs is not None or self.steps is not None else 10

    def lr_of(self, group: str) -> float:
        return self.group_lr.get(group, self.lr)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for config.toml and checkpoints (unset keys left out: TOML has no null)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.model_dump().items() if v is not None}


def _validation_error(exc: ValidationError, where: str) -> SpecError:
    msgs = []
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"]) or "config"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key '{key}'"
            guess = did_you_mean(key, TrainConfig.model_fields)
            msgs.append(f"{where}: {msg}; {guess}known keys: {', '.join(TrainConfig.model_fields)}")
        else:
            msgs.append(f"{where}: {key}: {msg}")
    return SpecError("\n".join(msgs))


def parse_lr_flags(values: list[str] | None) -> tuple[float | None, dict[str, float]]:
    """``--lr 1e-3`` (every group) and ``--lr theta=1e-3 --lr phi=2e-4`` (per group)."""
    default: float | None = None
    per_group: dict[str, float] = {}
    for v in values or []:
        name, eq, num = v.partition("=")
        try:
            value = float(num if eq else name)
        except ValueError:
            raise SpecError(f"--lr {v}: expected a number or GROUP=NUMBER (e.g. --lr theta=1e-3)") from None
        if eq:
            if not name.strip():
                raise SpecError(f"--lr {v}: the group name is missing (e.g. --lr theta=1e-3)")
            per_group[name.strip()] = value
        else:
            default = value
    return default, per_group


def parse_data_flags(values: list[str] | None) -> str | dict[str, str] | None:
    """``--data ring8`` (every data node) or ``--data x=imgs.idx --data c=labels.idx`` (per node)."""
    if not values:
        return None
    pairs: dict[str, str] = {}
    bare: list[str] = []
    for v in values:
        name, eq, source = v.partition("=")
        if eq and name.isidentifier() and source:
            pairs[name] = source
        else:
            bare.append(v)
    if bare and (pairs or len(bare) > 1):
        raise SpecError(
            f"--data {' '.join(values)}: give one source for every data node, or NODE=SOURCE for each",
            hint="e.g. --data ring8, or --data x=train-images-idx3-ubyte --data c=train-labels-idx1-ubyte",
        )
    return bare[0] if bare else pairs


def read_toml(path: str | Path) -> dict[str, Any]:
    from ..fileio import read_bytes
    from ..graph.build import decode_text

    p = Path(path)
    text = decode_text(read_bytes(p, MAX_CONFIG_BYTES, "config file"), str(p), "save the config file as UTF-8 text")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"config file '{p}' is not valid TOML: {exc}") from None


def load_config(file: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A config from a TOML file (optional) with flags on top (``None`` values are "not given")."""
    data: dict[str, Any] = dict(read_toml(file)) if file is not None else {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "group_lr":
            data["group_lr"] = {**data.get("group_lr", {}), **value}
        else:
            data[key] = value
    where = str(file) if file is not None else "options"
    spec = data.get("spec")
    if file is not None and (overrides or {}).get("spec") is None and isinstance(spec, str):
        beside = Path(file).parent / spec  # a relative spec path may be relative to the config file
        if not Path(spec).is_absolute() and not Path(spec).exists() and beside.exists():
            data["spec"] = str(beside)
    if "spec" not in data:
        raise SpecError(f"{where}: no spec given", hint='schemagm train SPEC, or `spec = "..."` in the config file')
    try:
        return TrainConfig(**data)
    except ValidationError as exc:
        raise _validation_error(exc, where) from None


def config_toml(config: TrainConfig) -> str:
    """The text of a run's config.toml."""
    return "# schemagm training configuration (schemagm train --config this-file)\n" + tomli_w.dumps(config.to_dict())
