"""Data sources bound to data nodes: built-in sets, user files, shape/range errors, split, batch stream."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from schemagm.errors import SpecError
from schemagm.graph.build import parse
from schemagm.train.data import BatchStream, get_dataset, load_builtin, read_idx

ROOT = Path(__file__).resolve().parent.parent


def spec(decl: str, extra: str = "") -> str:
    """A checked one-data-node spec: `decl` declares x (line 2)."""
    return f"""model t
{decl}
latent z : normal[2]
indicator y
x, y --> z : q_eta = mlp(8) normal
z, y -> x : p_theta = mlp(8) normal
x --> y : perfect adversarial
{extra}"""


#: a spec with a 4-dim data node x and a label node c of 3 classes
LABELLED = """model c
data x : real[4] in [0, 1]
data c : categorical[3] from digits.label
latent z : normal[2]
indicator y
x, c, y --> z : q_eta = mlp(8) normal
z, c, y -> x : p_theta = mlp(8) bernoulli
x --> y : perfect adversarial
"""


def graph(decl: str, file: str = "t.sgm"):
    return parse(spec(decl), file=file)


# -- built-in sets ------------------------------------------------------------------------


def test_digits_are_scikit_learns_read_without_importing_it():
    """The built-in digits are load_digits()'s arrays, read from the CSV file scikit-learn ships
    (importing scikit-learn costs seconds of every training run's start-up)."""
    import subprocess
    import sys
    import tempfile

    code = (
        "import sys, numpy as np\n"
        "from schemagm.train.data.sources import digits\n"
        "raw = digits()\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        "np.save(sys.argv[1], raw.main); np.save(sys.argv[2], raw.fields['label'])\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        x_file, y_file = f"{tmp}/x.npy", f"{tmp}/y.npy"
        done = subprocess.run([sys.executable, "-c", code, x_file, y_file], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        x, y = np.load(x_file), np.load(y_file)
    from sklearn.datasets import load_digits

    d = load_digits()
    assert x.dtype == np.float32 and np.array_equal(x, (d.data / 16.0).astype(np.float32))
    assert y.dtype == np.int64 and np.array_equal(y, d.target)


def test_digits_fit_flat_and_image_nodes_with_labels():
    flat = get_dataset(None, graph("data x : real[64] in [0, 1] from digits"))
    assert flat.train["x"].shape == (1617, 64) and flat.test["x"].shape == (180, 64)
    assert flat.train["x"].dtype == torch.float32 and 0 <= flat.train["x"].min() and flat.train["x"].max() == 1
    from sklearn.datasets import load_digits

    d = load_digits()
    row = flat.train["x"][0].numpy()
    match = np.nonzero(np.all(np.isclose(d.data / 16.0, row), axis=1))[0]
    assert len(match) >= 1  # the rows really are digits scaled by 1/16
    g = parse(
        LABELLED.replace("real[4] in [0, 1]", "real[1, 8, 8] in [0, 1] from digits").replace(
            "categorical[3]", "categorical[10]"
        )
    )
    data = get_dataset(None, g)
    assert data.train["x"].shape == (1617, 1, 8, 8) and data.train["c"].dtype == torch.int64
    # image and label of one row belong together
    i = int(np.nonzero(np.all(np.isclose(d.data / 16.0, data.train["x"][5].reshape(64).numpy()), axis=1))[0][0])
    assert data.train["c"][5] == d.target[i]


def test_ring8_has_its_modes_and_std_and_points_near_them():
    data = get_dataset(None, graph("data x : real[2] from ring8"))
    assert data.modes.shape == (8, 2) and data.std == 0.02
    radii = data.modes.norm(dim=1)
    assert torch.allclose(radii, torch.full((8,), 2.0))
    x = data.train["x"]
    dist = torch.cdist(x, data.modes).min(dim=1).values
    assert dist.max() < 0.02 * 6 and abs(x.std(0).mean() - math.sqrt(2)) < 0.05
    # fixed seed: the same points in every call
    assert torch.equal(get_dataset("ring8", graph("data x : real[2]")).train["x"], x)


def test_grid25_moons_swissroll():
    g25 = get_dataset("grid25", graph("data x : real[2]"))
    assert g25.modes.shape == (25, 2) and g25.std == 0.05
    assert sorted(set(g25.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    moons = get_dataset("moons", graph("data x : real[2]"))
    assert moons.modes is None and moons.train["x"].shape[1] == 2
    roll = get_dataset("swissroll", graph("data x : real[2]"))
    assert roll.train["x"].abs().max() < 4


def test_domains_give_the_indicator_for_a_node_given_y():
    g = parse((ROOT / "specs" / "ada.sgm").read_text())
    data = get_dataset(None, g)
    assert set(data.train) == {"z", "y"} and data.train["y"].dtype == torch.int64
    assert set(data.train["y"].tolist()) == {0, 1}
    src, tgt = data.train["z"][data.train["y"] == 1], data.train["z"][data.train["y"] == 0]
    assert (src.mean(0) - tgt.mean(0)).norm() > 0.3  # two different domains


def test_split_is_fixed_by_seed_and_disjoint():
    g = graph("data x : real[64] in [0, 1] from digits")
    a, b = get_dataset(None, g, seed=3), get_dataset(None, g, seed=3)
    assert torch.equal(a.train["x"], b.train["x"])
    c = get_dataset(None, g, seed=4, test_fraction=0.25)
    assert len(c.test["x"]) == round(1797 * 0.25) and not torch.equal(c.train["x"][:50], a.train["x"][:50])
    rows = {tuple(r.tolist()) for r in a.train["x"]}
    assert sum(tuple(r.tolist()) in rows for r in a.test["x"]) < 5  # digits has a few duplicate images only


def test_unknown_source_and_missing_source():
    with pytest.raises(SpecError, match="unknown data set 'nope'") as e:
        get_dataset("nope", graph("data x : real[2]"))
    assert "ring8" in str(e.value)
    with pytest.raises(SpecError, match="names no data set") as e:
        get_dataset(None, graph("data x : real[2]"))
    assert "t.sgm:2:" in str(e.value)


def test_range_is_checked_against_the_spec():
    with pytest.raises(SpecError) as e:
        get_dataset("ring8", graph("data x : real[2] in [0, 1]"))
    msg = str(e.value)
    assert "declared in [0, 1]" in msg and "t.sgm:2:" in msg and "ring8" in msg


# -- user files ---------------------------------------------------------------------------


def test_npy_of_the_right_and_the_wrong_shape(tmp_path):
    good = tmp_path / "pts.npy"
    np.save(good, np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32))
    data = get_dataset(str(good), graph("data x : real[2]"), test_fraction=0.2)
    assert data.train["x"].shape == (40, 2)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((50, 3)))
    with pytest.raises(SpecError) as e:
        get_dataset(str(bad), graph("data x : real[2]"))
    msg = str(e.value)
    assert str(bad) in msg and "expects samples of shape [2]" in msg and "found [3]" in msg and "spec line 2" in msg
    assert "t.sgm:2:" in msg and "data x : real[2]" in msg  # the spec line with its caret


def test_images_may_be_flat_or_shaped_but_never_scrambled(tmp_path):
    p = tmp_path / "imgs.npy"
    np.save(p, np.random.default_rng(0).random((20, 8, 8, 3)).astype(np.float32))
    with pytest.raises(SpecError, match=r"expects samples of shape \[3, 8, 8\], found \[8, 8, 3\]"):
        get_dataset(str(p), graph("data x : real[3, 8, 8]"))
    assert get_dataset(str(p), graph("data x : real[192]")).train["x"].shape[1] == 192


def test_npz_named_arrays(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.random.default_rng(0).random((30, 4)), label=np.arange(30) % 3)
    data = get_dataset(str(p), parse(LABELLED))
    assert data.train["x"].shape[1] == 4 and set(data.train["c"].tolist()) <= {0, 1, 2}
    q = tmp_path / "e.npz"
    np.savez(q, a=np.zeros((5, 4)), b=np.zeros((5, 4)))
    with pytest.raises(SpecError, match="has no array named 'x' for data node 'x'; it has: a, b"):
        get_dataset(str(q), graph("data x : real[4]"))


def test_categorical_labels_out_of_range(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.zeros((10, 4)), label=np.arange(10))
    g = parse(LABELLED)
    with pytest.raises(SpecError, match=r"range over \[0, 9\].*categorical\[3\]"):
        get_dataset(str(p), g)


def test_csv_with_and_without_header_and_with_text(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("u,v\n" + "".join(f"{i * 0.1},{-i * 0.1}\n" for i in range(20)))
    data = get_dataset(str(p), graph("data x : real[2]"), test_fraction=0)
    assert sorted(data.train["x"][:, 0].tolist()) == pytest.approx([i * 0.1 for i in range(20)])
    q = tmp_path / "b.csv"
    q.write_text("".join(f"{i},{i}\n" for i in range(5)))
    assert len(get_dataset(str(q), graph("data x : real[2]"), test_fraction=0)) == 5
    r = tmp_path / "c.csv"
    r.write_text("1,2\n3,4\n5,abc\n")
    with pytest.raises(SpecError) as e:
        get_dataset(str(r), graph("data x : real[2]"))
    assert f"{r}:3: column 2 is 'abc', not a number" in str(e.value)
    s = tmp_path / "d.csv"
    s.write_text("1,2\n3\n")
    with pytest.raises(SpecError, match=r"d.csv:2: expected 2 values, found 1"):
        get_dataset(str(s), graph("data x : real[2]"))


def test_csv_domain_column_feeds_the_indicator(tmp_path):
    p = tmp_path / "dom.csv"
    p.write_text("a,b,domain\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(10)))
    g = parse((ROOT / "specs" / "ada.sgm").read_text())
    data = get_dataset(str(p), g, test_fraction=0)
    assert data.train["z"].shape == (10, 2) and sorted(data.train["y"].tolist()) == [0] * 5 + [1] * 5


def test_image_folder_gray_rgb_classes_and_wrong_size(tmp_path):
    folder = tmp_path / "imgs"
    for k in range(2):
        (folder / f"class{k}").mkdir(parents=True)
        for i in range(3):
            arr = np.full((8, 8, 3), 40 * i + 100 * k, dtype=np.uint8)
            Image.fromarray(arr, "RGB").save(folder / f"class{k}" / f"{i}.png")
    rgb = get_dataset(str(folder), graph("data x : real[3, 8, 8] in [0, 1]"), test_fraction=0)
    assert rgb.train["x"].shape == (6, 3, 8, 8)
    values = sorted(set(round(v * 255) for v in rgb.train["x"][:, 0, 0, 0].tolist()))
    assert values == [0, 40, 80, 100, 140, 180]
    gray = get_dataset(str(folder), graph("data x : real[64] in [0, 1]"), test_fraction=0)
    assert gray.train["x"].shape == (6, 64)
    Image.fromarray(np.zeros((9, 8, 3), dtype=np.uint8)).save(folder / "class1" / "odd.png")
    with pytest.raises(SpecError, match=r"odd.png' is 8x9 pixels.*8x8"):
        get_dataset(str(folder), graph("data x : real[3, 8, 8] in [0, 1]"))
    (folder / "class1" / "odd.png").write_bytes(b"not a png at all")
    with pytest.raises(SpecError, match=r"odd.png' could not be read"):
        get_dataset(str(folder), graph("data x : real[3, 8, 8] in [0, 1]"))


def _idx(path: Path, arr: np.ndarray, code: int = 0x08, gz: bool = False) -> None:
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    (gzip.open(path, "wb") if gz else open(path, "wb")).write(data)


def test_idx_files_are_parsed_and_scaled(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, size=(12, 4, 4), dtype=np.uint8)
    p = tmp_path / "train-images-idx3-ubyte"
    _idx(p, imgs)
    assert np.array_equal(read_idx(p), imgs)
    data = get_dataset(str(p), graph("data x : real[16] in [0, 1]"), test_fraction=0)
    assert sorted(data.train["x"].reshape(-1).tolist()) == pytest.approx(sorted((imgs.reshape(-1) / 255.0).tolist()))
    q = tmp_path / "t10k-images-idx3-ubyte.gz"
    _idx(q, imgs, gz=True)
    assert get_dataset(str(q), graph("data x : real[1, 4, 4] in [0, 1]")).train["x"].shape[1:] == (1, 4, 4)
    floats = np.arange(6, dtype=np.float32).reshape(3, 2)
    r = tmp_path / "points.idx"
    _idx(r, floats, code=0x0D)
    assert np.array_equal(read_idx(r), floats)
    t = tmp_path / "trunc-idx3-ubyte"
    t.write_bytes(p.read_bytes()[:50])
    with pytest.raises(SpecError, match="truncated"):
        get_dataset(str(t), graph("data x : real[16] in [0, 1]"))


def test_corrupt_and_missing_files_give_clear_errors(tmp_path):
    p = tmp_path / "x.npy"
    p.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(SpecError, match=r"x.npy"):
        get_dataset(str(p), graph("data x : real[2]"))
    z = tmp_path / "x.npz"
    z.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(SpecError, match=r"x.npz.*could not be read"):
        get_dataset(str(z), graph("data x : real[2]"))
    with pytest.raises(SpecError, match="does not exist"):
        get_dataset(str(tmp_path / "none.npy"), graph("data x : real[2]"))
    n = tmp_path / "nan.npy"
    np.save(n, np.array([[0.0, np.nan]] * 4))
    with pytest.raises(SpecError, match="NaN or infinite"):
        get_dataset(str(n), graph("data x : real[2]"))
    o = tmp_path / "obj.npy"
    np.save(o, np.array([["a", "b"]] * 3))
    with pytest.raises(SpecError, match="not numbers"):
        get_dataset(str(o), graph("data x : real[2]"))


# -- the batch stream ------------------------------------------------------------------------


def test_stream_visits_every_row_once_per_epoch_and_resumes_exactly():
    data = {"x": torch.arange(10).float()[:, None]}
    s = BatchStream(data, batch_size=3, seed=1)
    first = [s.next()["x"].reshape(-1).tolist() for _ in range(3)]
    assert s.epoch == 1 and len(set(sum(first, []))) == 9
    rest = [s.next()["x"].reshape(-1).tolist() for _ in range(4)]
    t = BatchStream(data, batch_size=3, seed=1)
    for _ in range(4):
        t.next()
    u = BatchStream(data, batch_size=3, seed=1)
    u.load_state_dict(t.state_dict())
    assert [u.next()["x"].reshape(-1).tolist() for _ in range(3)] == rest[1:]
    assert first != [BatchStream(data, 3, seed=2).next()["x"].reshape(-1).tolist()]


def test_stream_shards_a_global_batch_over_ranks():
    data = {"x": torch.arange(40).float()[:, None]}
    whole = BatchStream(data, 8, seed=0)
    shards = [BatchStream(data, 8, seed=0, rank=r, world_size=2) for r in range(2)]
    for _ in range(7):
        g = whole.next()["x"]
        assert torch.equal(torch.cat([s.next()["x"] for s in shards]), g)
    with pytest.raises(SpecError, match="does not split evenly over 3"):
        BatchStream(data, 8, seed=0, world_size=3)
    with pytest.raises(SpecError, match="larger than the training split"):
        BatchStream(data, 41, seed=0)


def test_builtin_sets_are_cached_and_deterministic():
    assert load_builtin("ring8") is load_builtin("ring8")


def test_a_folder_named_like_a_builtin_set_does_not_shadow_it(tmp_path, monkeypatch):
    (tmp_path / "digits").mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "digits" / "a.png")
    monkeypatch.chdir(tmp_path)
    g = graph("data x : real[64] in [0, 1] from digits")
    assert len(get_dataset(None, g)) == 1617 and len(get_dataset("digits", g)) == 1617
    assert len(get_dataset("./digits", g, test_fraction=0)) == 1  # the folder, written as a path


def test_iter_batches_and_take_cover_a_split_in_order():
    data = get_dataset(None, graph("data x : real[2] from ring8"))
    batches = list(data.iter_batches(256, "test"))
    assert [len(b["x"]) for b in batches] == [256, 256, 256, 232]
    assert torch.equal(torch.cat([b["x"] for b in batches]), data.test["x"])
    assert torch.equal(data.take(10)["x"], data.test["x"][:10])
    shuffled = torch.cat([b["x"] for b in data.iter_batches(256, "test", shuffle=True, seed=1, drop_last=True)])
    assert len(shuffled) == 768 and not torch.equal(shuffled, data.test["x"][:768])
    with pytest.raises(ValueError):
        data.split("valid")
