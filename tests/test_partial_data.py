"""The data layer of a partially observed node: the mask from an .npz array, from empty CSV cells,
and `partial(f)`'s stratified fraction of the built-in digits (deterministic per seed); bad masks
are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schemagm.errors import SpecError
from schemagm.graph.build import parse
from schemagm.graph.model import observed_key
from schemagm.train.data import get_dataset

SPEC = (
    "model m2\n"
    "data x : real[4] from {src}\n"
    "data c : categorical[3] from {src}.label {partial}\n"
    "latent z : normal[2]\n"
    "x --> c : q_eta = mlp(8) categorical\n"
    "x, c --> z : r_eta = mlp(8) normal\n"
    "z, c -> x : p_theta = mlp(8) normal\n"
)


def graph(partial: str = "partial"):
    return parse(SPEC.format(src="digits", partial=partial))


def both(ds) -> tuple[np.ndarray, np.ndarray]:
    key = observed_key("c")
    return (
        np.concatenate([ds.train[key].numpy(), ds.test[key].numpy()]),
        np.concatenate([ds.train["c"].numpy(), ds.test["c"].numpy()]),
    )


def test_the_mask_of_an_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    label = np.arange(40) % 3
    mask = (np.arange(40) % 4 == 0).astype(np.int64)
    path = tmp_path / "d.npz"
    np.savez(path, x=rng.standard_normal((40, 4)).astype(np.float32), label=label, label_mask=mask)
    ds = get_dataset(str(path), graph(), seed=0, test_fraction=0.25)
    m, c = both(ds)
    assert m.dtype == np.bool_ and m.sum() == 10
    np.savez(path, x=np.zeros((40, 4), np.float32), c=label, c_mask=mask)  # per node: <node>_mask
    ds = get_dataset({"x": str(path), "c": str(path)}, graph(), seed=0, test_fraction=0.25)
    assert both(ds)[0].sum() == 10
    assert ds.train[observed_key("c")].shape == (30,)
    assert sorted(c[m].tolist()) == sorted(label[mask == 1].tolist())


def test_empty_csv_cells_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    lines = ["a,b,e,f,label"]
    for i in range(20):
        lines.append(f"{i},{i + 1},{i % 5},{i % 7}," + ("" if i % 2 else str(i % 3)))
    path.write_text("\n".join(lines) + "\n")
    ds = get_dataset(str(path), graph(), seed=0, test_fraction=0.2)
    m, c = both(ds)
    assert m.sum() == 10
    assert set(c[~m].tolist()) == {0}  # a missing value is filled with class 0, never read


def test_an_empty_cell_outside_a_label_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,e,f,label\n1,2,,4,0\n1,2,3,4,1\n")
    with pytest.raises(SpecError) as err:
        get_dataset(str(path), graph(), seed=0, test_fraction=0.0)
    assert "d.csv:2: column 3 is empty" in str(err.value)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.full(40, 2), "must hold 1 (observed) or 0 (missing) per row"),
        (np.zeros(40, dtype=np.int64), "observed on no row"),
    ],
)
def test_a_bad_mask_is_a_clear_error(tmp_path: Path, mask: np.ndarray, message: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((40, 4), np.float32), label=np.arange(40) % 3, label_mask=mask)
    with pytest.raises(SpecError) as err:
        get_dataset(str(path), graph(), seed=0)
    assert message in str(err.value)


def test_partial_fraction_of_digits_is_stratified_and_deterministic() -> None:
    text = (
        "model m2\ndata x : real[64] in [0, 1] from digits\n"
        "data c : categorical[10] from digits.label partial(0.1)\nlatent z : normal[2]\n"
        "x --> c : q_eta = mlp(8) categorical\nz, c -> x : p_theta = mlp(8) bernoulli\n"
        "x, c --> z : r_eta = mlp(8) normal\n"
    )
    g = parse(text)
    a = get_dataset(None, g, seed=0)
    b = get_dataset(None, g, seed=0)
    other = get_dataset(None, g, seed=1)
    key = observed_key("c")
    m = a.train[key].numpy()
    assert (m == b.train[key].numpy()).all()
    assert not (m == other.train[key].numpy()).all()
    counts = np.bincount(a.train["c"].numpy()[m], minlength=10)
    totals = np.bincount(a.train["c"].numpy(), minlength=10)
    assert np.all(np.abs(counts - 0.1 * totals) <= 1)  # each class: 10% of its rows
    assert a.test[key].numpy().all()  # test rows keep their labels (for eval's accuracy)
