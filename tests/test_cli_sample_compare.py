"""`schemagm sample RUN --compare` through the command line: each direction of a translation model.

On a briefly trained CycleGAN run (specs/extra/cyclegan.sgm): the picture is really written, a
PNG of two rows of two titled scatter panels; the array holds the test rows and what the run's
own translators G and F make of them; files are never overwritten without --force; misuse is a
usage error (exit 2) and a model without given data says which models --compare applies to.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SPECS
from PIL import Image
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.train.pictures import COLOURS, image_grid
from schemagm.train.run import load_run

if not app.registered_commands:
    _register_all()

SPEC = SPECS / "extra" / "cyclegan.sgm"
PANEL, TITLE, GAP = 480, 20, 8  # a scatter panel, its title strip, the gap between panels


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cyclegan") / "run"
    code, _, err = run("train", SPEC, "--out", out, "--steps", "30", "--batch-size", "32", "--no-progress")
    assert code == 0, err
    return out


def test_compare_draws_both_directions_and_saves_the_translations(cyclegan_run, tmp_path) -> None:
    picture, array_path = tmp_path / "t.png", tmp_path / "t.npy"
    code, out, err = run(
        "sample", cyclegan_run, "--compare", "-n", "40", "--seed", "3", "-o", picture, "--npy", array_path
    )
    assert code == 0, err
    assert "the translations of test rows (x_a -> x_b, x_b -> x_a)" in out
    assert f"wrote {picture}, {array_path} (array [2, 2, 40, 2])" in out
    with Image.open(picture) as im:
        assert im.format == "PNG"
        assert im.size == (2 * PANEL + GAP, 2 * (PANEL + TITLE) + GAP)  # a row per direction, two panels each
        pixels = np.asarray(im.convert("RGB"))
    # the source rows in blue on the left, their translation in red on the right, in each row
    for row in range(2):
        top = row * (PANEL + TITLE + GAP) + TITLE
        left = pixels[top : top + PANEL, :PANEL]
        right = pixels[top : top + PANEL, PANEL + GAP :]
        assert (left == COLOURS[1]).all(-1).sum() > 40 and not (left == COLOURS[0]).all(-1).any()
        assert (right == COLOURS[0]).all(-1).sum() > 40 and not (right == COLOURS[1]).all(-1).any()
    # the arrays: the test rows and what the run's own translators make of them
    got = np.load(array_path)
    loaded = load_run(cyclegan_run)
    rows = loaded.data.take(40, "test")
    a, b = rows["x_a"], rows["x_b"]
    g, f = loaded.model.networks["G_theta"], loaded.model.networks["F_theta"]
    with torch.no_grad():
        expected = torch.stack([torch.stack([a, g(a)]), torch.stack([b, f(b)])]).numpy()
        torch.manual_seed(3)
        by_sample = loaded.model.sample(40, given={"x_b": b})["x_a"].numpy()
    assert got.shape == (2, 2, 40, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1, 1], by_sample, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[0, 1], got[1, 1])  # two directions, two networks


def test_compare_writes_its_default_file_and_never_overwrites_without_force(cyclegan_run) -> None:
    default = cyclegan_run / "samples" / "compare-seed5.png"
    assert not default.exists()
    code, out, err = run("sample", cyclegan_run, "--compare", "-n", "16", "--seed", "5")
    assert code == 0, err
    assert str(default) in out
    first = default.read_bytes()
    assert first.startswith(b"\x89PNG")
    code, out, err = run("sample", cyclegan_run, "--compare", "-n", "8", "--seed", "5")
    assert code == 1
    assert "already exists; it is not overwritten" in err and "--force" in err and "Traceback" not in err
    assert default.read_bytes() == first  # untouched
    code, out, err = run("sample", cyclegan_run, "--compare", "-n", "8", "--seed", "5", "--force")
    assert code == 0, err
    assert default.read_bytes() != first  # 8 rows now, not 16


@pytest.mark.parametrize("other", ["--reconstruct", "--interpolate"])
def test_compare_with_reconstruct_or_interpolate_is_a_usage_error(cyclegan_run, tmp_path, other) -> None:
    code, out, err = run("sample", cyclegan_run, "--compare", other, "-o", tmp_path / "x.png")
    assert code == 2
    assert f"choose one of --compare and {other}" in err and "Traceback" not in out + err
    assert not (tmp_path / "x.png").exists()


def test_compare_on_a_model_without_given_data_says_which_models_it_applies_to(tmp_path) -> None:
    gan = tmp_path / "gan2d"
    code, _, err = run(
        "train", SPECS / "extra" / "gan2d.sgm", "--out", gan, "--steps", "2", "--batch-size", "16", "--no-progress"
    )
    assert code == 0, err
    code, out, err = run("sample", gan, "--compare", "-o", tmp_path / "c.png", "--npy", tmp_path / "c.npy")
    assert code == 1
    assert "--compare draws translations, and the generative process of" in err
    assert "starts from no given data rows" in err
    assert "translation models" in err and "specs/extra/cyclegan.sgm" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "c.npy").exists()


def test_compare_is_in_the_help_with_its_array_shape() -> None:
    code, out, _ = run("sample", "--help")
    assert code == 0
    assert "--compare" in out and "[directions, 2, n, ...]" in out
    assert "schemagm sample runs/cyclegan --compare -n 500 -o translation.png" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_compare_of_image_domains_sets_the_source_grid_beside_the_translated_grid(tmp_path) -> None:
    """CycleGAN between two image domains (8x8 digits each): a row per direction, two grids of one width."""
    text = SPEC.read_text().replace("real[2] from moons", "real[64] in [0, 1] from digits")
    spec = tmp_path / "digits_cyclegan.sgm"
    spec.write_text(text.replace("real[2] from swissroll", "real[64] in [0, 1] from digits"))
    out = tmp_path / "run"
    code, _, err = run("train", spec, "--out", out, "--steps", "3", "--batch-size", "16", "--no-progress")
    assert code == 0, err
    picture, array_path = tmp_path / "d.png", tmp_path / "d.npy"
    code, stdout, err = run("sample", out, "--compare", "-n", "16", "-o", picture, "--npy", array_path)
    assert code == 0, err
    assert "(array [2, 2, 16, 64])" in stdout
    side = 4 * (4 * 9 + 1)  # 4 x 4 cells of 8 + 1 pixels and a border, enlarged 4 times
    with Image.open(picture) as im:
        assert im.format == "PNG" and im.size == (2 * side + GAP, 2 * (side + TITLE) + GAP)
        pixels = np.asarray(im.convert("RGB"))
    loaded = load_run(out)
    rows = loaded.data.take(16, "test")
    got = np.load(array_path)
    g, f = loaded.model.networks["G_theta"], loaded.model.networks["F_theta"]
    with torch.no_grad():
        np.testing.assert_allclose(got[0, 1], g(rows["x_a"]).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1, 1], f(rows["x_b"]).numpy(), rtol=1e-5, atol=1e-6)
    for d, (source, made) in enumerate(got):
        top = d * (side + TITLE + GAP) + TITLE
        for x, left in ((source, 0), (made, side + GAP)):
            expected = np.asarray(image_grid(torch.from_numpy(x), ncol=4).convert("RGB"))
            np.testing.assert_array_equal(pixels[top : top + side, left : left + side], expected)
