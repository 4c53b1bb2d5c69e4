"""What ``schemagm sample`` (and the trainer's epoch pictures) draw: samples, reconstructions, interpolations.

Each function takes a model and its :class:`DataSource` and returns the raw
array (for ``--npy``) and a picture (an image grid, or a scatter over the test
data for 2-D nodes; None where the node is neither) of the first data node.
With a ``seed``, random draws start from ``torch.manual_seed(seed)``, so the
same seed gives the same picture.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image

from ..errors import SpecError
from .data import DataSource
from .pictures import as_images, image_grid, scatter

__all__ = ["draw_samples", "draw_reconstructions", "draw_interpolations", "sampled_node"]


def _is_points(x: torch.Tensor) -> bool:
    return x.dim() == 2 and x.shape[1] == 2


def _picture_or_none(x: torch.Tensor, ncol: int | None = None) -> Image.Image | None:
    return image_grid(x, ncol=ncol) if as_images(x) is not None else None


def _test_rows(model: Any, data: DataSource, n: int) -> dict[str, torch.Tensor]:
    split = "test" if len(next(iter(data.test.values()))) else "train"
    batch = data.take(n, split)
    device = getattr(model, "device", None)
    if device is None:  # a model with no device property: its first parameter or buffer tells
        device = next(iter([*model.parameters(), *model.buffers()]), torch.zeros(())).device
    return {k: v.to(device) for k, v in batch.items()}


def _seed(seed: int | None) -> None:
    if seed is not None:
        torch.manual_seed(seed)


def _needs(model: Any) -> list[str]:
    """The data the generative process starts from, where it then makes another data node (else none:
    a model that cannot sample says so, as before)."""
    needs = list(model.needs_data()) if hasattr(model, "needs_data") else []
    others = [v for v, n in model.graph.nodes.items() if n.role.value == "data" and v not in needs]
    return needs if others else []


def sampled_node(model: Any, data: DataSource) -> str:
    """The data node a sample shows: the first, or, where the generative process takes it as given
    (it has no producer: CycleGAN's x_a), the first data node that the process makes from it."""
    needs = _needs(model)
    if data.primary not in needs:
        return data.primary
    return next((v for v in data.train if v not in needs and v in model.graph.nodes), data.primary)


def draw_samples(
    model: Any, data: DataSource, n: int, seed: int | None = None
) -> tuple[torch.Tensor, Image.Image | None]:
    node = sampled_node(model, data)
    needs = _needs(model)
    given: dict[str, torch.Tensor] = {}
    if needs:  # data the generative process starts from (CycleGAN translates test rows): show what it makes
        rows = _test_rows(model, data, n)
        given = {v: rows[v] for v in needs}
        n = len(next(iter(given.values())))
    _seed(seed)
    with torch.no_grad():
        drawn = model.sample(n, given=given) if given else model.sample(n)
    if node not in drawn:
        raise SpecError(
            f"model '{model.graph.name}' does not generate its data node '{node}' (it samples "
            f"{', '.join(drawn) or 'nothing'})"
        )
    x = drawn[node].detach().cpu()
    if _is_points(x):
        return x, scatter(x, data.test[node] if len(data.test[node]) else data.train[node][:2000])
    return x, _picture_or_none(x)


def draw_reconstructions(
    model: Any, data: DataSource, n: int, seed: int | None = None
) -> tuple[torch.Tensor, Image.Image | None]:
    """Test rows and their reconstructions: array ``[2, n, ...]``; a grid alternating rows of each."""
    node = data.primary
    batch = _test_rows(model, data, n)
    _seed(seed)
    with torch.no_grad():
        rec = model.reconstruct(batch).detach().cpu()
    x = batch[node].detach().cpu()
    rec = rec.reshape(x.shape)
    both = torch.stack([x, rec])
    if _is_points(x):
        return both, scatter([x, rec])
    images = as_images(x)
    if images is None:
        return both, None
    ncol = min(len(x), max(1, math.ceil(math.sqrt(2 * len(x)))))
    rows = []
    for start in range(0, len(x), ncol):
        rows += [x[start : start + ncol], rec[start : start + ncol]]
        if len(rows[-1]) < ncol:  # pad a short last row pair so the grid stays aligned
            pad = ncol - len(rows[-1])
            rows[-2] = torch.cat([rows[-2], torch.zeros(pad, *x.shape[1:])])
            rows[-1] = torch.cat([rows[-1], torch.zeros(pad, *x.shape[1:])])
    return both, image_grid(torch.cat(rows), ncol=ncol)


def draw_interpolations(
    model: Any, data: DataSource, pairs: int, steps: int, seed: int | None = None
) -> tuple[torch.Tensor, Image.Image | None]:
    """A row per pair of test points: decodings of codes on the line between their encodings."""
    decode = getattr(model, "decode", None)
    if decode is None:
        raise SpecError(
            f"--interpolate needs to decode codes, and this model ('{model.graph.name}') offers no decode(z)",
            hint="use --reconstruct, or sample",
        )
    node = data.primary
    batch = _test_rows(model, data, 2 * pairs)
    if len(batch[node]) < 2 * pairs:
        raise SpecError(f"--interpolate with {pairs} pairs needs {2 * pairs} test rows; the run has {len(batch[node])}")
    _seed(seed)
    with torch.no_grad():
        codes = model.encode(batch)
        a, b = codes[0::2], codes[1::2]
        t = torch.linspace(0, 1, steps, device=codes.device)
        path = a[:, None] + (b - a)[:, None] * t.reshape(1, steps, *([1] * (a.dim() - 1)))
        decoded = decode(path.reshape(pairs * steps, *a.shape[1:])).detach().cpu()
    shaped = decoded.reshape(pairs, steps, *batch[node].shape[1:])
    if _is_points(decoded.reshape(pairs * steps, -1)):
        return shaped, scatter(decoded.reshape(-1, 2), batch[node].cpu())
    return shaped, _picture_or_none(decoded.reshape(pairs * steps, *batch[node].shape[1:]), ncol=steps)
