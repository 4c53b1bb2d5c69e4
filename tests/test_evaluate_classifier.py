"""The digits classifier: accurate, deterministic, cached (and not trusted when the cache is bad)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from schemagm.evaluate import classifier as clf

#: a cheap recipe for the cache behaviour (the real one is trained once per session)
SMALL = dict(clf.RECIPE, name="digits_small", epochs=2, layers=[64, 32, 10])


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = clf._fit

    def fit(recipe: dict):
        calls.append(1)
        return real(recipe)

    monkeypatch.setattr(clf, "_fit", fit)
    return calls


def test_accuracy_above_90_percent(schemagm_cache: Path) -> None:
    c = clf.load_classifier()
    assert c.path.parent == schemagm_cache and c.path.is_file()
    assert c.test_accuracy > 0.90
    _, _, x_test, y_test = clf.digits_split()
    assert len(y_test) == 360
    assert clf.accuracy(c.model, x_test, y_test) == pytest.approx(c.test_accuracy)
    probs = c.model.probs(x_test[:5])
    assert torch.allclose(probs.sum(-1), torch.ones(5))
    assert c.model.features(x_test[:5]).shape == (5, 128)


def test_second_call_loads_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    first = clf.load_classifier(tmp_path, recipe=SMALL)
    assert first.trained and len(calls) == 1
    assert first.path == tmp_path / f"digits_small-{clf.recipe_hash(SMALL)}.pt" and first.path.is_file()
    second = clf.load_classifier(tmp_path, recipe=SMALL)
    assert not second.trained and len(calls) == 1  # loaded, not retrained
    assert second.test_accuracy == first.test_accuracy
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary files left


def test_training_is_deterministic(tmp_path: Path) -> None:
    a = clf.load_classifier(tmp_path / "a", recipe=SMALL)
    b = clf.load_classifier(tmp_path / "b", recipe=SMALL)
    assert a.trained and b.trained
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.are_deterministic_algorithms_enabled()  # the global setting is restored


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other_recipe"])
def test_bad_cache_file_is_retrained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    good = clf.load_classifier(tmp_path, recipe=SMALL)
    blob = good.path.read_bytes()
    if damage == "garbage":
        good.path.write_bytes(b"not a checkpoint")
    elif damage == "truncated":
        good.path.write_bytes(blob[: len(blob) // 2])
    else:  # a valid file written for another recipe under this name
        other = clf.load_classifier(tmp_path / "other", recipe=dict(SMALL, seed=1))
        good.path.write_bytes(other.path.read_bytes())
    calls = _counting(monkeypatch)
    again = clf.load_classifier(tmp_path, recipe=SMALL)
    assert again.trained and len(calls) == 1
    assert again.path.read_bytes() != b"not a checkpoint"
    assert not clf.load_classifier(tmp_path, recipe=SMALL).trained and len(calls) == 1  # the new file is good


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCHEMAGM_CACHE", str(tmp_path / "c"))
    assert clf.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SCHEMAGM_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert clf.cache_dir() == tmp_path / ".cache" / "schemagm"
    assert clf.cache_path(recipe=SMALL) != clf.cache_path(recipe=dict(SMALL, epochs=3))  # keyed by the recipe
