"""What a new user meets first: help at 80 columns, --version, suggestions for unknown names,
the progress and summary lines, repeating a run from its config.toml, the default threads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomllib
from conftest import SPECS
from typer.testing import CliRunner

import schemagm
from schemagm.cli.app import COMMANDS, _register_all, app

if not app.registered_commands:
    _register_all()

TRANSFORMS = [
    "swap-processes",
    "swap-nodes",
    "activate-adversary",
    "degenerate-adversary",
    "importance-weight",
    "remove-edge",
]
HELP_PAGES = [[], *[[c] for c in COMMANDS], *[["transform", t] for t in TRANSFORMS]]


def run(*args: object, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80", **(env or {})})


@pytest.mark.parametrize("page", HELP_PAGES, ids=lambda p: " ".join(p) or "schemagm")
def test_help_fits_80_columns_without_cuts(page):
    res = run(*page, "--help")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "…" not in text
    assert not re.search(r"^  [a-z-]+ {2,}.*[a-z]\.\.\.$", text, re.M), "a summary cut short with ..."
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, too_long
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: schemagm")
    assert "{" not in usage and "<" not in usage and not re.search(r"\[[a-z]+\]", usage), usage
    assert not re.search(r"<(path|str|int|list)", text), "typer's lower-case type names as placeholders"


def test_help_shows_defaults_and_keeps_brackets():
    train = run("train", "--help").stdout
    assert "[default: 64]" in train and "[default: 500]" in train and "--checkpoint-every N" in train
    assert "Usage: schemagm train [OPTIONS] [SPEC]" in train
    sample = run("sample", "--help").stdout
    assert "(array [pairs, steps, ...])" in " ".join(sample.split()) and "(array )" not in sample
    check = run("check", "--help").stdout
    assert "Usage: schemagm check [OPTIONS] FILE..." in check
    assert "Usage: schemagm eval [OPTIONS] RUN" in run("eval", "--help").stdout
    # examples are kept line by line, not run together
    assert "\n    schemagm train --resume runs/vae --epochs 40\n" in train


def test_version():
    res = run("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"schemagm {schemagm.__version__}"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", SPECS / "vae.sgm", "--data", "digitz", "--steps", "1"], "did you mean 'digits'?"),
        (["train", SPECS / "vae.sgm", "--optimizer", "adm"], "did you mean 'adam'?"),
        (["train", SPECS / "vae.sgm", "--lr", "thetta=1e-3", "--steps", "1"], "did you mean 'theta'?"),
        (["train", SPECS / "vae.sgm", "--epoch", "3"], "--epochs"),
        (["trian"], "Did you mean 'train'?"),
        (["render", SPECS / "gan.sgm", "-t", "swap-procesess"], "did you mean 'swap-processes'?"),
        (["render", SPECS / "gan.sgm", "-f", "sgv"], "did you mean 'svg'?"),
        (["transform", "swap-nodes", SPECS / "vae.sgm", "x", "zz"], "did you mean 'z'?"),
        (["transform", "remove-edge", SPECS / "infogan.sgm", "Q_eat"], "did you mean 'Q_eta'?"),
        (["transform", "swap-procesess", SPECS / "vae.sgm"], "Did you mean 'swap-processes'"),
    ],
)
def test_unknown_names_get_a_suggestion(args, expected, tmp_path):
    res = run(*args, "--out", tmp_path / "run") if args[0] == "train" and "--epoch" not in args else run(*args)
    assert res.exit_code in (1, 2), res.output
    assert expected in res.output
    assert "Traceback" not in res.output


def test_unknown_config_key_and_metric_get_a_suggestion(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'spec = "{SPECS / "vae.sgm"}"\nepoch = 3\n')
    res = run("train", "--config", cfg)
    assert res.exit_code == 1 and "did you mean 'epochs'?" in res.output
    from schemagm.errors import SpecError
    from schemagm.evaluate.report import parse_metrics

    with pytest.raises(SpecError, match="did you mean 'mmd'"):
        parse_metrics("elbo,mdm")


def test_summary_names_groups_and_a_resume_gives_this_sessions_time(tmp_path):
    out = tmp_path / "vae"
    res = run("train", SPECS / "vae.sgm", "--steps", "20", "--out", out, "--no-progress", "--samples", "0")
    assert res.exit_code == 0, res.output
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    line = res.stdout.splitlines()[0]
    for group, value in last["losses"].items():
        assert f"L_{group}={value:.4g}" in line
    assert re.search(r"for 20 steps \(\d+ epochs?\) in [\d.]+ s;", line), line
    first_total = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["time"]
    res = run("train", "--resume", out, "--steps", "40", "--no-progress")
    assert res.exit_code == 0, res.output
    m = re.search(r"for 40 steps \(\d+ epochs?\) from step 20 in ([\d.]+) s \(([\d.]+) s in all sessions\)", res.stdout)
    assert m, res.stdout
    session, total = float(m.group(1)), float(m.group(2))
    assert total >= session and total == pytest.approx(session + first_total, abs=0.15)


def test_progress_bar_labels_losses_by_group(tmp_path):
    from schemagm.train.trainer import Trainer

    trainer = Trainer.__new__(Trainer)
    trainer.last_group_losses = {"theta": 1.5, "eta": 24.86}
    trainer.last_phase_losses = {"model": 26.0}
    assert trainer._shown_losses() == "L_theta=1.5  L_eta=24.86"
    trainer.last_group_losses = {}
    assert trainer._shown_losses() == "model phase=26"


def test_config_of_a_run_repeats_it_in_a_new_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("train", SPECS / "vae.sgm", "--steps", "15", "--out", "runs/vae", "--no-progress", "--samples", "0")
    assert res.exit_code == 0, res.output
    config = tomllib.loads(Path("runs/vae/config.toml").read_text())
    assert Path(config["spec"]).is_absolute() and Path(config["spec"]) == SPECS / "vae.sgm"
    assert config["threads"] == 1  # the default thread choice is recorded
    before = sorted(p.name for p in Path("runs/vae").rglob("*"))
    res = run("train", "--config", "runs/vae/config.toml")
    assert res.exit_code == 0, res.output
    assert "repeating run runs/vae in runs/vae-2" in res.output
    assert sorted(p.name for p in Path("runs/vae").rglob("*")) == before  # the repeated run is kept
    first = Path("runs/vae/metrics.jsonl").read_text().splitlines()
    again = Path("runs/vae-2/metrics.jsonl").read_text().splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "time"} for x in first]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "time"} for x in again]
    res = run("train", "--config", "runs/vae/config.toml")
    assert res.exit_code == 0 and Path("runs/vae-3").is_dir()
    # from another working directory: the spec is found (absolute), `out` is relative to there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = run("train", "--config", tmp_path / "runs/vae/config.toml")
    assert res.exit_code == 0, res.output
    assert (elsewhere / "runs/vae/metrics.jsonl").read_text().splitlines() != []
    assert sorted(p.name for p in (tmp_path / "runs/vae").rglob("*")) == before


def test_relative_spec_in_a_config_file_may_be_relative_to_the_file(tmp_path, monkeypatch):
    from schemagm.train.config import load_config

    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "m.sgm").write_text((SPECS / "ae.sgm").read_text())
    (tmp_path / "exp" / "run.toml").write_text('spec = "m.sgm"\n')
    monkeypatch.chdir(tmp_path)
    assert Path(load_config("exp/run.toml").spec) == Path("exp/m.sgm")


def test_default_threads_follow_the_model_size():
    import torch

    from schemagm.train.threads import LARGE_MODEL, default_threads

    small = torch.nn.Linear(10, 10)
    assert default_threads(small) == 1

    class Big(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(LARGE_MODEL), requires_grad=False)

    assert default_threads(Big()) == max(1, torch.get_num_threads())


@pytest.mark.parametrize("name", ["vae", "gan", "aae", "wake_sleep"])
def test_one_evaluation_gives_the_same_losses_and_terms_as_two(name):
    import torch

    model = schemagm.load(SPECS / f"{name}.sgm")
    batch = {"x": torch.rand(16, 64)}
    torch.manual_seed(5)
    losses, terms = model.losses_and_terms(batch)
    torch.manual_seed(5)
    alone_losses = model.losses(batch)
    torch.manual_seed(5)
    alone_terms = model.terms(batch)
    assert losses.keys() == alone_losses.keys() and terms.keys() == alone_terms.keys()
    for k in losses:
        torch.testing.assert_close(losses[k], alone_losses[k], rtol=1e-6, atol=1e-6)
    for k in terms:
        torch.testing.assert_close(terms[k], alone_terms[k], rtol=1e-6, atol=1e-6)


def test_pictures_at_epochs_1_2_5_10_20_50():
    from schemagm.train.trainer import picture_epoch

    assert [e for e in range(1, 1001) if picture_epoch(e)] == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def test_a_run_of_12_epochs_writes_the_scheduled_pictures(tmp_path):
    out = tmp_path / "ae"
    res = run("train", SPECS / "ae.sgm", "--epochs", "12", "--batch-size", "512", "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (out / "samples").iterdir())
    assert names == ["epoch-0001.png", "epoch-0002.png", "epoch-0005.png", "epoch-0010.png", "last.png"]
