"""The training configuration: the documented TOML example loads; flags override the file; bad keys are named."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from schemagm.errors import SpecError
from schemagm.train.config import config_toml, load_config, parse_data_flags, parse_lr_flags


def test_the_toml_example_of_docs_training_md_loads(tmp_path):
    block = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "training.md").read_text(), re.S).group(1)
    p = tmp_path / "c.toml"
    p.write_text(block)
    c = load_config(p)
    assert c.spec == "specs/gan.sgm" and c.data == "ring8" and c.steps == 5000 and c.betas == (0.5, 0.999)
    assert c.lr_of("theta") == 2e-4 and c.lr_of("phi") == 1e-4 and c.lr_of("eta") == 1e-3
    assert load_config(_write(tmp_path / "again.toml", config_toml(c))) == c  # config.toml round-trips


def _write(path, text):
    path.write_text(text)
    return path


def test_flags_override_the_file_and_merge_group_rates(tmp_path):
    p = _write(tmp_path / "c.toml", 'spec = "a.sgm"\nsteps = 10\nlr = 0.01\n[group_lr]\nphi = 0.5\n')
    c = load_config(p, {"steps": 20, "group_lr": {"theta": 0.25}, "epochs": None})
    assert c.steps == 20 and c.lr == 0.01 and c.group_lr == {"phi": 0.5, "theta": 0.25}
    assert c.stop_epochs is None  # steps given: no default epoch limit
    assert load_config(None, {"spec": "a.sgm"}).stop_epochs == 10


def test_bad_values_are_named_with_the_file(tmp_path):
    p = _write(tmp_path / "c.toml", 'spec = "a.sgm"\nbatch_size = 0\noptimiser = "adam"\n')
    with pytest.raises(SpecError) as e:
        load_config(p)
    msg = str(e.value)
    assert f"{p}: batch_size: Input should be greater than or equal to 1" in msg
    assert f"{p}: unknown key 'optimiser'" in msg
    with pytest.raises(SpecError, match="no spec given"):
        load_config(None, {})
    with pytest.raises(SpecError, match="learning rate of group 'phi' must be positive"):
        load_config(None, {"spec": "a.sgm", "group_lr": {"phi": -1.0}})


def test_lr_and_data_flags():
    assert parse_lr_flags(["1e-3", "phi=2e-4"]) == (1e-3, {"phi": 2e-4})
    with pytest.raises(SpecError, match="GROUP=NUMBER"):
        parse_lr_flags(["phi=fast"])
    assert parse_data_flags(["ring8"]) == "ring8"
    assert parse_data_flags(["x=a.idx", "c=b.idx"]) == {"x": "a.idx", "c": "b.idx"}
    assert parse_data_flags(["data/with=sign.npy"]) == "data/with=sign.npy"  # not NODE=SOURCE: a path
    with pytest.raises(SpecError, match="NODE=SOURCE"):
        parse_data_flags(["x=a.idx", "ring8"])
