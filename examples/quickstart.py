"""Quickstart: compile a shipped spec, train it on scikit-learn's digits, save samples.

    python examples/quickstart.py                      # the VAE, 300 steps
    python examples/quickstart.py specs/gan.sgm --steps 500 --out gan_samples.png

The objective is derived from the drawing of the model (specs/*.sgm), never from its name:
schemagm gives one loss per parameter group (theta, eta, phi, ...) and the phases in which the
groups are updated (the adversary first).  This script trains with one Adam optimiser per group,
prints the per-group losses as they go down, then samples the generative process and writes a
grid of 8x8 digit images with Pillow.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits

import schemagm

ROOT = Path(__file__).resolve().parent.parent


def digits_batches(batch_size: int, seed: int):
    """Endless shuffled batches of the 1797 digits, pixels scaled to [0, 1], flattened to 64."""
    data = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data) - batch_size + 1, batch_size):
            yield data[order[i : i + batch_size]]


def save_grid(images: torch.Tensor, path: Path, scale: int = 4) -> None:
    """Tile ``[n, 64]`` images in [0, 1] into one PNG (written atomically)."""
    imgs = images.detach().reshape(-1, 8, 8).clamp(0, 1).numpy()
    n = len(imgs)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.ones((rows * 9 + 1, cols * 9 + 1), dtype=np.float32)
    for i, img in enumerate(imgs):
        r, c = divmod(i, cols)
        grid[1 + r * 9 : 1 + r * 9 + 8, 1 + c * 9 : 1 + c * 9 + 8] = img
    picture = Image.fromarray((grid * 255).astype(np.uint8)).resize(
        (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    try:
        picture.save(tmp, format="PNG")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "spec",
        nargs="?",
        default=str(ROOT / "specs" / "vae.sgm"),
        help="a spec whose data node is real[64] from digits",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="samples.png", help="where to write the grid of samples")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = schemagm.load(args.spec)
    graph = model.graph
    (data_node,) = [n for n in graph.nodes.values() if n.role.value == "data"]
    print(f"{graph.name}: {graph.title}")
    print(model.objective.text())

    # one optimiser per parameter group; the phases say which groups step together
    optimisers = {g: torch.optim.Adam(model.parameters_of(g), lr=args.lr, betas=(0.5, 0.999)) for g in model.groups}
    batches = digits_batches(args.batch_size, args.seed)
    report_every = max(1, args.steps // 10)
    running: dict[str, list[float]] = {g: [] for g in model.groups}

    for step in range(1, args.steps + 1):
        batch = {data_node.name: next(batches)}
        for phase in model.objective.phases:
            for _ in range(phase.steps):
                for g in phase.groups:
                    optimisers[g].zero_grad(set_to_none=True)
                model.phase_loss(phase.name, batch).backward()
                for g in phase.groups:
                    optimisers[g].step()
        with torch.no_grad():
            for g, value in model.losses(batch).items():
                running[g].append(float(value))
        if step % report_every == 0 or step == 1:
            shown = "  ".join(f"{g}: {np.mean(v):9.3f}" for g, v in running.items())
            print(f"step {step:5d}  {shown}")
            running = {g: [] for g in model.groups}

    model.eval()
    with torch.no_grad():
        samples = model.sample(64, mean=True)[data_node.name]
    out = Path(args.out)
    save_grid(samples, out)
    print(f"wrote {out} ({len(samples)} samples)")


if __name__ == "__main__":
    main()
