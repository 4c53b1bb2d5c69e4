"""Networks from installed packages (entry points of group ``schemagm.networks``) are read only
when a name is not registered, and a registered name wins over an entry point of that name."""

from __future__ import annotations

import importlib.metadata
from types import SimpleNamespace

import pytest

from schemagm import registry


@pytest.fixture
def fresh(monkeypatch):
    calls: list[str] = []
    points = [
        SimpleNamespace(name="ringnet", value="somepkg.nets:ring"),
        SimpleNamespace(name="mlp", value="somepkg.nets:not_the_builtin"),
    ]

    def entry_points(group):
        calls.append(group)
        return points

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "NETWORKS", dict(registry.NETWORKS))
    monkeypatch.setitem(registry._TABLES, "network", registry.NETWORKS)
    return calls


def test_a_registered_network_is_found_without_reading_entry_points(fresh):
    entry = registry.lookup("network", "mlp")
    assert entry is not None and entry.doc and "entry point" not in entry.doc
    assert fresh == []


def test_an_unregistered_name_reads_the_entry_points_once(fresh):
    entry = registry.lookup("network", "ringnet")
    assert entry is not None and entry.factory == "somepkg.nets:ring"
    assert registry.lookup("network", "nosuchnet") is None
    assert fresh == ["schemagm.networks"]
    mlp = registry.lookup("network", "mlp")
    assert mlp is not None and mlp.factory != "somepkg.nets:not_the_builtin"  # the built-in wins


def test_the_list_of_names_includes_entry_points(fresh):
    assert "ringnet" in registry.network_names() and fresh == ["schemagm.networks"]
