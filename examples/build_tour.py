"""Write and execute examples/tour.ipynb (the notebook is stored with its outputs).

python examples/build_tour.py          # needs nbformat, nbclient, ipykernel: pip install 'schemagm[notebook]'
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        """# A tour of schemagm

A model is a drawing: nodes (data, latent, the indicator y) and arrows (solid = generative
process p, dashed = inference process q, red = adversarial). schemagm parses the drawing,
checks it, renders it, transforms it, and **derives** one objective from it by one rule, never
from the model's name. This notebook walks through the stages on the variational autoencoder and
trains it for a few seconds on scikit-learn's digits.""",
    ),
    (
        "code",
        """from pathlib import Path

import schemagm

ROOT = Path.cwd().parent if Path.cwd().name == "examples" else Path.cwd()
print("schemagm", schemagm.__version__)""",
    ),
    (
        "markdown",
        "## 1. Parse\n\nA spec is one line per node and one line per arrow (highlighted by schemagm's Pygments lexer).",
    ),
    (
        "code",
        """from IPython.display import HTML
from pygments import highlight
from pygments.formatters import HtmlFormatter

from schemagm.language.highlight import SgmLexer

text = (ROOT / "specs" / "vae.sgm").read_text()
HTML(highlight(text, SgmLexer(), HtmlFormatter(noclasses=True)))""",
    ),
    (
        "code",
        """vae = schemagm.parse(text)
print(vae.name, "-", vae.title)
print("nodes:", ", ".join(f"{n.name} ({n.role.value})" for n in vae.nodes.values()))
print("groups:", vae.groups)""",
    ),
    (
        "markdown",
        "## 2. Render\n\nA graph shows itself as a diagram in the paper's notation (SVG through Graphviz).",
    ),
    ("code", "vae"),
    (
        "markdown",
        """## 3. Transform

InfoGAN with its processes swapped and its adversary made perfect is the VAE's structure
(Hu et al., ICLR 2018, Section 3.3).""",
    ),
    (
        "code",
        """from schemagm.transform import degenerate_adversary, equivalent, swap_processes

infogan = schemagm.parse_file(ROOT / "specs" / "infogan.sgm")
derived = degenerate_adversary(swap_processes(infogan))
print("equivalent to the VAE:", equivalent(derived, vae))
derived""",
    ),
    (
        "markdown",
        "## 4. Compile\n\nThe loss of every parameter group, as the one rule derives it from the graph:",
    ),
    (
        "code",
        """from IPython.display import Math, display

model = schemagm.compile(vae)
for group in model.groups:
    display(Math(rf"\\mathcal{{L}}(\\{group}) = " + model.objective.loss_formula(group, latex=True)))
for phase in model.objective.phases:
    print(f"phase {phase.name}: groups {', '.join(phase.groups)}, {phase.steps} step(s) per model step")""",
    ),
    (
        "markdown",
        "## 5. Train briefly\n\n60 steps on the digits: a few seconds on a CPU. The run directory holds "
        "the config, the spec, `metrics.jsonl`, checkpoints and pictures.",
    ),
    (
        "code",
        """import tempfile

import torch

from schemagm.train.config import load_config
from schemagm.train.launch import train

torch.set_num_threads(1)
out = Path(tempfile.mkdtemp()) / "vae"
config = load_config(
    None,
    {"spec": str(ROOT / "specs" / "vae.sgm"), "out": str(out), "steps": 60, "batch_size": 64,
     "log_every": 20, "samples": 64, "progress": False, "seed": 0},
)
launched = train(config)
print(launched.result.status, "after", launched.result.step, "steps")
for record in launched.run.read_metrics():
    print(record["step"], {group: round(value, 2) for group, value in record["losses"].items()})""",
    ),
    ("markdown", "## 6. Samples\n\nThe generative process of the trained model, drawn from the prior:"),
    (
        "code",
        """from IPython.display import Image

from schemagm.train.run import load_run

run = load_run(out)
with torch.no_grad():
    x = run.model.sample(16)["x"]
print("samples:", tuple(x.shape), f"in [{x.min():.2f}, {x.max():.2f}]")
Image(filename=str(out / "samples" / "last.png"))""",
    ),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in CELLS:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
    return nb


def main() -> None:
    nb = build()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, HERE / "tour.ipynb")


if __name__ == "__main__":
    main()
