"""Eject of the two constructs that were refused: partially observed data nodes (M2 and the
semi-supervised AAE: the mask read with the data, the masked and enumerated terms printed from
the IR) and the kernel density's empirical latent (its memorised points a buffer of the script).

Each against the compiled model: the same per-group losses and gradients to 1e-5 on the same
batch, mask and draws; the same data and masks as ``get_dataset`` (built-in digits with the
labelled fraction, an .npz ``<field>_mask``, empty CSV cells); the same inferred labels; the
same points, log-likelihoods and samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SPECS
from eject_support import assert_same, load_script, networks_like
from reference.batches import batch_for, digit_labels, digits
from reference.compare import TOL

PARTIAL = ["m2", "ssaae"]


def _compiled(name: str, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(SPECS / "extra" / f"{name}.sgm")


def _ejected(model, tmp_path: Path, name: str):
    from schemagm.eject import eject

    return load_script(eject(model), tmp_path, name)


@pytest.mark.parametrize("name", PARTIAL)
@pytest.mark.parametrize("mask", ["every_third", "all", "none"])
def test_the_masked_terms_equal_the_compiled_models(name: str, mask: str, tmp_path: Path) -> None:
    """Labelled rows, unlabelled rows, and the two extremes (every row labelled: no enumeration
    weight from q; no row labelled: the supervised term is 0 and the sum runs under q everywhere)."""
    model = _compiled(name)
    module = _ejected(model, tmp_path, name)
    nets = networks_like(module, model)
    n = 12
    batch = {"x": digits(n), "c": digit_labels(n)}
    rows = torch.arange(n)
    batch["c.observed"] = {"every_third": rows % 3 == 0, "all": rows >= 0, "none": rows < 0}[mask]
    for seed in (5, 6):
        torch.manual_seed(seed)
        got = model.losses(batch)
        mine = module.losses(nets, batch, module.Noise(dict(model.last_draws)))
        assert_same(model, got, mine, module, nets, f"{name}, {mask} (seed {seed})")
    if mask == "none":  # the supervised term has no row: it is exactly 0 in both
        t = module.terms(nets, batch, module.Noise(dict(model.last_draws)))
        sup = next(k for k in t if k.startswith("supervised:"))
        assert float(t[sup].detach()) == 0.0


@pytest.mark.parametrize("name", PARTIAL)
def test_the_mask_changes_the_loss(name: str, tmp_path: Path) -> None:
    """The script reads the mask: the same rows with more labels give another loss (the test
    above would pass for a script that ignored it only if the compiled model ignored it too)."""
    model = _compiled(name)
    module = _ejected(model, tmp_path, name)
    nets = networks_like(module, model)
    batch = {"x": digits(8), "c": digit_labels(8), "c.observed": torch.arange(8) % 2 == 0}
    torch.manual_seed(1)
    model.losses(batch)
    draws = dict(model.last_draws)
    some = module.losses(nets, batch, module.Noise(draws))
    every = module.losses(nets, {**batch, "c.observed": torch.ones(8, dtype=torch.bool)}, module.Noise(draws))
    assert any(abs(float(some[g].detach()) - float(every[g].detach())) > 1e-3 for g in some)


def test_the_script_prints_the_masked_terms_as_plain_lines(tmp_path: Path) -> None:
    from schemagm.eject import eject

    text = eject(SPECS / "extra" / "m2.sgm")
    assert 'm_c = batch["c.observed"].bool()' in text
    assert 'c_observed = one_hot(batch["c"], 10)' in text
    assert "torch.where(m_c_rows, c_observed, c_is_3)" in text  # the enumerated value where missing
    assert "# supervised:q_eta [η]: −10·" in text and "# kl:q_eta [η]: β·[m_c·(−log p(c))" in text
    body = text[text.index("def terms(") : text.index("def losses(")]
    for word in ("observed(", "observed_value(", "enum_value(", "dtype", "value(", "dist("):
        assert f" {word}" not in body and f"({word}" not in body, word  # the IR's namespace is gone
    assert "def infer_c(nets, batch, noise):" in text and 'result["accuracy_c"]' in text


def _train_and_test(module, model, source=None, seed: int = 0):
    from schemagm.train.data import get_dataset

    mine = module.load_data(source, seed)
    theirs = get_dataset(source, model.graph, seed=seed)
    for part, arrays in (("train", theirs.train), ("test", theirs.test)):
        assert set(mine[part]) == set(arrays), part
        for k, t in arrays.items():
            torch.testing.assert_close(mine[part][k], t, rtol=0, atol=0, check_dtype=True, msg=f"{part} {k}")
    return mine


@pytest.mark.parametrize("seed", [0, 3])
def test_the_labelled_fraction_is_schemagms_choice(seed: int, tmp_path: Path) -> None:
    """partial(0.1) on the built-in digits: the same 10% of each class of the training rows (the
    test rows keep every label), per data seed."""
    model = _compiled("m2")
    module = _ejected(model, tmp_path, "m2")
    data = _train_and_test(module, model, None, seed)
    kept = data["train"]["c.observed"]
    assert 0.08 < float(kept.float().mean()) < 0.12 and bool(data["test"]["c.observed"].all())


def test_an_npz_mask_and_empty_csv_cells_are_the_mask(tmp_path: Path) -> None:
    model = _compiled("m2")
    module = _ejected(model, tmp_path, "m2")
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:300] / 16.0).astype(np.float32)
    label = d.target[:300]
    mask = np.arange(300) % 3 == 0
    np.savez(tmp_path / "digits.npz", x=x, label=label, label_mask=mask.astype(np.int64))
    with open(tmp_path / "digits.csv", "w") as f:
        f.write(",".join([f"p{i}" for i in range(64)] + ["label"]) + "\n")
        for r in range(300):
            cell = str(int(label[r])) if mask[r] else ""
            f.write(",".join([repr(float(v)) for v in x[r]] + [cell]) + "\n")
    for source in ("digits.npz", "digits.csv"):
        data = _train_and_test(module, model, str(tmp_path / source))
        seen = torch.cat([data["train"]["c.observed"], data["test"]["c.observed"]])
        # partial(0.1) keeps a tenth of the labelled training rows; the test rows keep theirs
        assert 0 < int(seen.sum()) < int(mask.sum())


@pytest.mark.parametrize("name", PARTIAL)
def test_the_inferred_label_is_the_compiled_models(name: str, tmp_path: Path) -> None:
    model = _compiled(name)
    module = _ejected(model, tmp_path, name)
    nets = networks_like(module, model)
    batch = batch_for(model.graph, n=16)
    with torch.no_grad():
        theirs = model.infer("c", batch)
        mine = module.infer_c(nets, batch, module.Noise())
    torch.testing.assert_close(mine, theirs, rtol=TOL["rtol"], atol=TOL["atol"])
    result = module.evaluate(nets, batch, 0)
    seen = batch["c.observed"]
    right = (theirs.argmax(-1) == batch["c"])[seen]
    assert result["accuracy_c"] == pytest.approx(float(right.float().mean()))


# -- the kernel density: memorised points ---------------------------------------------------------------------


def test_the_kernel_densitys_points_density_and_samples_are_the_compiled_models(tmp_path: Path) -> None:
    from schemagm.train.data import get_dataset

    model = _compiled("kde")
    module = _ejected(model, tmp_path, "kde")
    data = module.load_data(None)
    theirs = get_dataset(None, model.graph, seed=0)
    model.fit(theirs.train)
    nets = module.Networks()
    assert nets.support_m.shape == (0, 2)  # empty until fit, as the compiled model's
    module.fit(nets, data["train"])
    assert torch.equal(nets.support_m, model.support_m) and nets.support_m.shape == (9000, 2)
    batch = {"x": theirs.test["x"][:300]}
    torch.testing.assert_close(
        module.log_likelihood(nets, batch, module.Noise()),
        model.log_likelihood(batch),
        rtol=TOL["rtol"],
        atol=TOL["atol"],
    )
    for seed in (0, 7):
        torch.manual_seed(seed)
        a = model.sample(50, mean=False)
        torch.manual_seed(seed)
        b = module.sample(nets, 50, module.Noise())
        assert set(a) == set(b) == {"x", "m"}
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
    # the points are the checkpoint: a fresh Networks takes them (and their number) from a state dict
    loaded = networks_like(module, model)
    assert torch.equal(loaded.support_m, model.support_m)
    assert module.losses(nets, batch, module.Noise()) == model.losses(batch) == {}
    report = module.evaluate(nets, {"x": theirs.test["x"]}, 0)
    assert report == {"log_likelihood": pytest.approx(float(model.log_likelihood(theirs.test).mean()), rel=1e-6)}
