"""What ``schemagm sample`` (and the trainer's epoch pictures) draw: samples, reconstructions, interpolations.

Each function takes a model and its :class:`DataSource` and returns the raw
array (for ``--npy``) and a picture (an image grid, or a scatter over the test
data for 2-D nodes; None where the node is neither) of the first data node;
:func:`draw_translations` (``--compare``) does so for each direction of a model
whose generative process starts from given data rows (CycleGAN).
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
from .pictures import as_images, image_grid, scatter, tile, titled

__all__ = [
    "draw_samples",
    "draw_reconstructions",
    "draw_interpolations",
    "draw_translations",
    "sampled_node",
    "given_data",
    "translate",
    "translate_back",
]


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
    if not needs:
        return []
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


def draw_translations(
    model: Any, data: DataSource, n: int, seed: int | None = None
) -> tuple[list[tuple[str, str]], torch.Tensor | None, Image.Image | None]:
    """Each direction of a translation model: ``n`` test rows of the source and what the generative
    process makes of them, from ``torch.manual_seed(seed)`` for each direction.

    The forward direction starts from the data the process takes as given (CycleGAN's x_a, making
    x_b = G(x_a)); the reverse one gives the target's test rows in its place, where the process
    then makes the source from them (x_a = F(x_b)).  Returns the directions ``(source, target)``,
    the array ``[directions, 2, n, ...]`` (the source rows, their translation; None where the
    shapes differ) and a picture with a row per direction: the source rows beside their
    translation, in colour over the target's test rows in grey for 2-D points, or as two image
    grids of one width (cell by cell) for images; None where a node is neither."""
    needs = _needs(model)
    if not needs:
        raise SpecError(
            f"--compare draws translations, and the generative process of '{model.graph.name}' starts from "
            "no given data rows",
            hint="it applies to translation models, whose generative process makes a data node from the given "
            "rows of another (specs/extra/cyclegan.sgm); draw this model's samples without --compare",
        )
    rows = _test_rows(model, data, n)
    found = translate(model, rows, seed)
    pairs = [(rows[s].detach().cpu(), made) for s, _, made in found]
    same = len({tuple(t.shape) for pair in pairs for t in pair}) == 1
    array = torch.stack([torch.stack(pair) for pair in pairs]) if same else None
    panels: list[list[Image.Image]] = []
    for (s, t, made), (src, _) in zip(found, pairs, strict=True):
        left, right = _panel(src, None, 1), _panel(made, _domain(data, t), 0)
        if left is None or right is None:
            return [(s, t) for s, t, _ in found], array, None
        points = _is_points(made)
        over = f" (red) over the test rows of {t} (grey)" if points else ""
        panels.append(
            [titled(left, f"{s}: {len(src)} test rows"), titled(right, f"{s} -> {t}: their translation{over}")]
        )
    return [(s, t) for s, t, _ in found], array, tile(panels)


def given_data(model: Any) -> list[str]:
    """The data nodes the generative process of a translation model takes as given (CycleGAN's x_a),
    where it then makes another data node from them; empty for any other model."""
    return _needs(model)


def translate(
    model: Any, rows: dict[str, torch.Tensor], seed: int | None = None
) -> list[tuple[str, str, torch.Tensor]]:
    """Each direction ``(source, target, translation)`` of a translation model on ``rows`` (the
    source rows of each direction, on the model's device; the translations come back on the CPU),
    from ``torch.manual_seed(seed)`` for each direction.

    The forward direction starts from the data the process takes as given (CycleGAN's x_a, making
    x_b = G(x_a)); the reverse one gives the target's rows in its place, where the process then
    makes the source from them (x_a = F(x_b))."""
    needs = _needs(model)
    if not needs:
        raise SpecError(f"the generative process of '{model.graph.name}' starts from no given data rows")
    n = len(rows[needs[0]])
    found: list[tuple[str, str, torch.Tensor]] = []
    for target, made in _made(model, {v: rows[v] for v in needs}, n, seed):
        found.append((needs[0], target, made))
    for _, target, _ in list(found):
        if target not in rows:  # a data node the data do not hold: nothing to translate back
            continue
        for source in needs:
            back = translate_back(model, rows, target, rows[target], source, seed)
            if back is not None:
                found.append((target, source, back))
    if not found:
        raise SpecError(f"the generative process of '{model.graph.name}' makes no data node from {', '.join(needs)}")
    return found


def translate_back(
    model: Any, rows: dict[str, torch.Tensor], node: str, x: torch.Tensor, source: str, seed: int | None = None
) -> torch.Tensor | None:
    """What the generative process makes of the given data ``source`` when ``x`` takes the place of
    ``node`` (the other given data from ``rows``), from ``torch.manual_seed(seed)``; None where the
    process cannot make ``source`` from ``node`` (a model with one direction only)."""
    needs = _needs(model)
    device = rows[source].device
    given = {**{v: rows[v] for v in needs if v not in (source, node)}, node: x.to(device)}
    try:
        back = dict(_made(model, given, len(x), seed))
    except SpecError:  # the process cannot make the source from the target: one direction only
        return None
    return back.get(source)


def _made(model: Any, given: dict[str, torch.Tensor], n: int, seed: int | None) -> list[tuple[str, torch.Tensor]]:
    """The data nodes (not labels) that the generative process makes from ``given`` rows."""
    _seed(seed)
    with torch.no_grad():
        drawn = model.sample(n, given=given)
    nodes = model.graph.nodes
    return [
        (v, x.detach().cpu())
        for v, x in drawn.items()
        if v not in given and nodes[v].role.value == "data" and nodes[v].value != "categorical"
    ]


def _domain(data: DataSource, node: str) -> torch.Tensor | None:
    if node not in data.test:
        return None
    return data.test[node] if len(data.test[node]) else data.train[node][:2000]


def _panel(x: torch.Tensor, over: torch.Tensor | None, colour: int) -> Image.Image | None:
    if _is_points(x):
        return scatter(x, over, colour=colour)
    return image_grid(x, ncol=max(1, math.ceil(math.sqrt(len(x))))) if as_images(x) is not None else None
