"""Pictures of samples, with Pillow only: image grids and 2-D scatter plots.

* :func:`image_grid`: ``[n, C, H, W]`` images, or ``[n, D]`` vectors whose D is a
  square (or 3 times a square), tiled ``ncol`` across, values clipped to [0, 1],
  small images enlarged (nearest neighbour) so that 8x8 digits stay visible.
* :func:`scatter`: 2-D points over the data (grey), up to three coloured sets, on axes with
  round tick values; every finite point is inside the frame.
* :func:`picture_of`: chooses one of them from the data node's shape.
* :func:`titled` and :func:`tile`: a title strip over a picture, and pictures set in rows.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .checkpoint import atomic_write_bytes

__all__ = [
    "image_grid",
    "scatter",
    "nice_ticks",
    "picture_of",
    "save_png",
    "as_images",
    "can_picture",
    "titled",
    "tile",
]

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
    tiles = imgs.clamp(0, 1).numpy()  # one clamp for the batch, not one per image
    for i in range(n):
        top, left = (pad + q * (size + pad) for q, size in zip(divmod(i, ncol), (h, w), strict=True))
        canvas[:, top : top + h, left : left + w] = tiles[i]
    pixels = (canvas * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[0], "L") if c == 1 else Image.fromarray(pixels.transpose(1, 2, 0), "RGB")
    scale = max(1, math.ceil(min_size / h))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    return image


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi]."""
    span = max(hi - lo, 1e-12)
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * span:
        ticks.append(round(t, 12) + 0.0)
        t += step
    return ticks


def _tick_text(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}"


def scatter(
    points: Sequence[torch.Tensor] | torch.Tensor,
    data: torch.Tensor | None = None,
    size: int = 480,
    margin: int = 16,
    colour: int = 0,
) -> Image.Image:
    """Points (one tensor or several, each ``[n, 2]``) in colour over ``data`` in grey, on axes.

    The plotted square holds every finite point (samples and data; none is clipped), with
    round tick values along the bottom (first coordinate) and the left (second). The sets take
    the colours red, blue, green in turn, the first set the one of index ``colour``."""
    sets = [points] if isinstance(points, torch.Tensor) else list(points)
    sets = [s.detach().float().cpu().reshape(-1, 2) for s in sets]
    everything = torch.cat(([data.detach().float().cpu().reshape(-1, 2)] if data is not None else []) + sets)
    finite = everything[torch.isfinite(everything).all(dim=1)]
    if len(finite) == 0:
        finite = torch.zeros(1, 2)
    lo, hi = finite.min(dim=0).values.double(), finite.max(dim=0).values.double()
    centre, half = (lo + hi) / 2, float(((hi - lo) / 2).max()) * 1.05 + 1e-6
    font = ImageFont.load_default()
    left, bottom = margin + 40, margin + 22  # room for the tick labels
    plot = size - max(left, bottom) - margin  # a square plot area in a square picture
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = left, margin, left + plot, margin + plot

    def to_px(p: torch.Tensor) -> np.ndarray:
        u = ((p.double() - centre) / half).numpy()  # [-1, 1]
        px = np.empty((len(p), 2))
        px[:, 0] = x0 + (u[:, 0] + 1) / 2 * plot
        px[:, 1] = y1 - (u[:, 1] + 1) / 2 * plot
        return px

    draw.rectangle([x0, y0, x1, y1], outline=(120, 120, 120))
    for axis in (0, 1):
        lo_a, hi_a = float(centre[axis]) - half, float(centre[axis]) + half
        for t in nice_ticks(lo_a, hi_a):
            frac = (t - lo_a) / (hi_a - lo_a)
            text = _tick_text(t)
            tw = draw.textlength(text, font=font)
            if axis == 0:
                x = x0 + frac * plot
                draw.line([x, y1, x, y1 + 4], fill=(120, 120, 120))
                draw.text((x - tw / 2, y1 + 6), text, fill=(60, 60, 60), font=font)
            else:
                y = y1 - frac * plot
                draw.line([x0 - 4, y, x0, y], fill=(120, 120, 120))
                draw.text((x0 - 6 - tw, y - 5), text, fill=(60, 60, 60), font=font)
    if data is not None:
        for x, y in to_px(data.detach().float().cpu().reshape(-1, 2)):
            draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(170, 170, 170))
    for k, s in enumerate(sets):
        fill = COLOURS[(colour + k) % len(COLOURS)]
        for x, y in to_px(s[torch.isfinite(s).all(dim=1)]):
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=fill)
    return image


def picture_of(samples: torch.Tensor, data: torch.Tensor | None = None, ncol: int | None = None) -> Image.Image:
    """A grid for image-like samples, a scatter for 2-D ones."""
    flat = samples.reshape(len(samples), -1) if samples.dim() > 1 else samples[:, None]
    if flat.shape[1] == 2:
        return scatter(flat, data)
    return image_grid(samples, ncol=ncol)


def titled(image: Image.Image, title: str, height: int = 20) -> Image.Image:
    """``image`` under a white strip ``height`` pixels tall with ``title`` in it (left-aligned); a
    title wider than the image widens the picture (white on the right)."""
    font = ImageFont.load_default()
    text = math.ceil(ImageDraw.Draw(image).textlength(title, font=font)) + 12
    out = Image.new("RGB", (max(image.width, text), image.height + height), "white")
    out.paste(image.convert("RGB"), (0, height))
    ImageDraw.Draw(out).text((6, (height - 11) // 2), title, fill=(30, 30, 30), font=font)
    return out


def tile(rows: Sequence[Sequence[Image.Image]], gap: int = 8) -> Image.Image:
    """Pictures set in rows, left to right and top to bottom, ``gap`` white pixels apart."""
    heights = [max(im.height for im in row) for row in rows]
    width = max(sum(im.width for im in row) + gap * (len(row) - 1) for row in rows)
    out = Image.new("RGB", (width, sum(heights) + gap * (len(rows) - 1)), "white")
    y = 0
    for row, h in zip(rows, heights, strict=True):
        x = 0
        for im in row:
            out.paste(im.convert("RGB"), (x, y))
            x += im.width + gap
        y += h + gap
    return out


def load_png_writer() -> None:
    """Load Pillow's file-format drivers now (``Image.preinit``), which its first ``save`` would
    otherwise do: 10 to 20 ms, at start-up rather than inside the first epoch's training clock."""
    Image.preinit()


def save_png(image: Image.Image, path: str | Path) -> None:
    """Write ``image`` as a PNG, atomically.  zlib's fastest level: a training picture is written
    often and read rarely (a grid of digits: a third of level 6's time, a few per cent larger)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    atomic_write_bytes(path, buf.getvalue())
