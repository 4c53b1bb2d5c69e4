"""Pictures of samples, with Pillow only: image grids and 2-D scatter plots.

* :func:`image_grid`: ``[n, C, H, W]`` images, or ``[n, D]`` vectors whose D is a
  square (or 3 times a square), tiled ``ncol`` across, values clipped to [0, 1],
  small images enlarged (nearest neighbour) so that 8x8 digits stay visible.
* :func:`scatter`: 2-D points over the data (grey), up to three coloured sets.
* :func:`picture_of`: chooses one of them from the data node's shape.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .checkpoint import atomic_write_bytes

__all__ = ["image_grid", "scatter", "picture_of", "save_png", "as_images", "can_picture"]

COLOURS = [(214, 39, 40), (31, 119, 180), (44, 160, 44)]


def as_images(x: torch.Tensor) -> torch.Tensor | None:
    """``x`` as ``[n, C, H, W]`` if it is image-shaped or a square vector, else None."""
    x = x.detach().float().cpu()
    if x.dim() == 4 and x.shape[1] in (1, 3):
        return x
    if x.dim() == 3:
        return x[:, None]
    if x.dim() == 2:
        d = x.shape[1]
        for c in (1, 3):
            side = math.isqrt(d // c) if d % c == 0 else 0
            if side >= 2 and c * side * side == d:
                return x.reshape(len(x), c, side, side)
    return None


def can_picture(x: torch.Tensor) -> bool:
    return as_images(x) is not None or (x.dim() == 2 and x.shape[1] == 2)


def image_grid(x: torch.Tensor, ncol: int | None = None, pad: int = 1, min_size: int = 28) -> Image.Image:
    imgs = as_images(x)
    if imgs is None:
        raise ValueError(f"cannot draw samples of shape {list(x.shape)} as images")
    n, c, h, w = imgs.shape
    ncol = ncol or max(1, math.ceil(math.sqrt(n)))
    nrow = max(1, math.ceil(n / ncol))
    canvas = np.ones((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.float32) * 0.5
    for i in range(n):
        r, k = divmod(i, ncol)
        canvas[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = imgs[i].clamp(0, 1).numpy()
    pixels = (canvas * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[0], "L") if c == 1 else Image.fromarray(pixels.transpose(1, 2, 0), "RGB")
    scale = max(1, math.ceil(min_size / h))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image


def scatter(
    points: Sequence[torch.Tensor] | torch.Tensor,
    data: torch.Tensor | None = None,
    size: int = 480,
    margin: int = 16,
) -> Image.Image:
    """Points (one tensor or several, each ``[n, 2]``) in colour over ``data`` in grey."""
    sets = [points] if isinstance(points, torch.Tensor) else list(points)
    sets = [s.detach().float().cpu().reshape(-1, 2) for s in sets]
    everything = torch.cat(([data.detach().float().cpu().reshape(-1, 2)] if data is not None else []) + sets)
    finite = everything[torch.isfinite(everything).all(dim=1)]
    if len(finite) == 0:
        finite = torch.zeros(1, 2)
    lo = torch.quantile(finite, 0.005, dim=0) if len(finite) > 200 else finite.min(dim=0).values
    hi = torch.quantile(finite, 0.995, dim=0) if len(finite) > 200 else finite.max(dim=0).values
    centre, half = (lo + hi) / 2, float(((hi - lo) / 2).max()) * 1.1 + 1e-6
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def to_px(p: torch.Tensor) -> np.ndarray:
        u = (p - centre) / half  # [-1, 1]
        px = np.empty((len(p), 2))
        px[:, 0] = margin + (u[:, 0].numpy() + 1) / 2 * (size - 2 * margin)
        px[:, 1] = size - margin - (u[:, 1].numpy() + 1) / 2 * (size - 2 * margin)
        return px

    draw.rectangle([margin, margin, size - margin, size - margin], outline=(200, 200, 200))
    if data is not None:
        for x, y in to_px(data.detach().float().cpu().reshape(-1, 2)):
            draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(170, 170, 170))
    for k, s in enumerate(sets):
        colour = COLOURS[k % len(COLOURS)]
        for x, y in to_px(s[torch.isfinite(s).all(dim=1)]):
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    return image


def picture_of(samples: torch.Tensor, data: torch.Tensor | None = None, ncol: int | None = None) -> Image.Image:
    """A grid for image-like samples, a scatter for 2-D ones."""
    flat = samples.reshape(len(samples), -1) if samples.dim() > 1 else samples[:, None]
    if flat.shape[1] == 2:
        return scatter(flat, data)
    return image_grid(samples, ncol=ncol)


def save_png(image: Image.Image, path: str | Path) -> None:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
