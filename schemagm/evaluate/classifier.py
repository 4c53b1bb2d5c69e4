"""The digits classifier behind the inception score and the Fréchet distance.

schemagm trains its own small classifier on scikit-learn's 8x8 digits instead
of downloading one: an MLP 64 → 256 → 128 → 10 (the 128 hidden units are the
features for the Fréchet distance).  Training is deterministic -- a fixed seed,
a fixed number of epochs, a fixed shuffling generator and
``torch.use_deterministic_algorithms`` -- so the same recipe gives the same
weights on the same machine.

The trained weights are cached under ``$SCHEMAGM_CACHE`` (default
``~/.cache/schemagm/``) in a file named after a hash of the recipe (architecture,
optimiser, epochs, seed, data split), written atomically (temporary file, then
``os.replace``).  A cache file that cannot be read, belongs to another recipe or
does not fit the network is not trusted: the classifier is retrained and the
file replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..train.checkpoint import atomic_write_bytes

__all__ = [
    "RECIPE",
    "DigitsClassifier",
    "TrainedClassifier",
    "cache_dir",
    "cache_path",
    "load_classifier",
    "recipe_hash",
]

#: everything that determines the classifier's weights; its hash names the cache file
RECIPE: dict = {
    "name": "digits_mlp",
    "version": 1,
    "layers": [64, 256, 128, 10],
    "activation": "relu",
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "epochs": 40,
    "batch_size": 64,
    "seed": 0,
    "data": "built-in digits (sklearn digits / 16), stratified split test_size=0.2 random_state=seed",
}


class DigitsClassifier(nn.Module):
    """p(y | x) for 8x8 digits in [0, 1]; ``features(x)`` is the last hidden layer."""

    def __init__(self, layers: list[int] = RECIPE["layers"]) -> None:
        super().__init__()
        d_in, *hidden, d_out = layers
        body: list[nn.Module] = []
        for width in hidden:
            body += [nn.Linear(d_in, width), nn.ReLU()]
            d_in = width
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(d_in, d_out)

    @staticmethod
    def _flat(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1).float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self._flat(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=-1)


@dataclass
class TrainedClassifier:
    model: DigitsClassifier
    test_accuracy: float
    path: Path
    #: True when this call trained it (no usable cache file)
    trained: bool


def recipe_hash(recipe: dict = RECIPE) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    env = os.environ.get("SCHEMAGM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "schemagm"


def cache_path(directory: Path | None = None, recipe: dict = RECIPE) -> Path:
    return Path(directory or cache_dir()) / f"{recipe['name']}-{recipe_hash(recipe)}.pt"


def digits_split(recipe: dict = RECIPE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test) of the classifier's recipe."""
    from sklearn.model_selection import train_test_split

    from ..train.data.sources import load_builtin

    raw = load_builtin("digits")
    x = torch.tensor(raw.main.reshape(len(raw), -1), dtype=torch.float32)  # type: ignore[union-attr]
    y = torch.tensor(raw.fields["label"], dtype=torch.long)
    idx_train, idx_test = train_test_split(
        list(range(len(y))), test_size=0.2, random_state=recipe["seed"], stratify=raw.fields["label"]
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels on one thread (the same result whatever the machine's thread count;
    a tiny network trains faster on one thread than on contended ones), settings restored after."""
    before, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.set_num_threads(threads)


def accuracy(model: DigitsClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).double().mean())


def _fit(recipe: dict) -> tuple[DigitsClassifier, float]:
    """Train the classifier from scratch by ``recipe``; returns it and its test accuracy."""
    x_tr, y_tr, x_te, y_te = digits_split(recipe)
    with _deterministic():
        torch.manual_seed(recipe["seed"])
        model = DigitsClassifier(recipe["layers"])
        opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
        order = torch.Generator().manual_seed(recipe["seed"])
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        for _ in range(recipe["epochs"]):
            perm = torch.randperm(len(y_tr), generator=order)
            for start in range(0, len(perm), recipe["batch_size"]):
                idx = perm[start : start + recipe["batch_size"]]
                opt.zero_grad()
                loss_fn(model(x_tr[idx]), y_tr[idx]).backward()
                opt.step()
        model.eval()
        return model, accuracy(model, x_te, y_te)


def _read(path: Path, recipe: dict) -> tuple[DigitsClassifier, float] | None:
    """The cached classifier, or None when the file is missing, unreadable or not this recipe's."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("recipe_hash") != recipe_hash(recipe):
            return None
        model = DigitsClassifier(recipe["layers"])
        model.load_state_dict(blob["state_dict"], strict=True)
        acc = float(blob["test_accuracy"])
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            return None
    except Exception:  # a truncated or foreign file: retrain rather than trust it
        return None
    model.eval()
    return model, acc


def _write(path: Path, model: DigitsClassifier, acc: float, recipe: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "recipe_hash": recipe_hash(recipe),
        "recipe": json.dumps(recipe, sort_keys=True),
        "state_dict": model.state_dict(),
        "test_accuracy": acc,
    }
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_classifier(
    directory: Path | str | None = None, *, recipe: dict = RECIPE, retrain: bool = False
) -> TrainedClassifier:
    """The digits classifier: from the cache when a valid file is there, else trained and cached."""
    path = cache_path(Path(directory) if directory else None, recipe)
    cached = None if retrain else _read(path, recipe)
    if cached is not None:
        return TrainedClassifier(cached[0], cached[1], path, trained=False)
    model, acc = _fit(recipe)
    _write(path, model, acc, recipe)
    return TrainedClassifier(model, acc, path, trained=True)
