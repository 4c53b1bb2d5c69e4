"""The Pygments lexer: every catalog spec without an Error token, the right token classes, the entry point."""

from __future__ import annotations

import os
import re
from importlib import import_module, metadata
from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from schemagm.language.highlight import SgmLexer

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "specs" / "extra").glob("*.sgm"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_catalog_spec_tokenizes_without_error_tokens(path):
    text = path.read_text()
    tokens = list(SgmLexer().get_tokens(text))
    errors = [(kind, value) for kind, value in tokens if kind in Error]
    assert errors == []
    assert "".join(value for _, value in tokens) == (text if text.endswith("\n") else text + "\n")


def _kinds(text: str) -> dict[str, object]:
    return {value: kind for kind, value in SgmLexer().get_tokens(text) if value.strip()}


def test_the_token_classes_follow_the_grammar():
    kinds = _kinds(
        'model gan "A GAN"\n'
        "data x : real[64] in [0, 1] from digits.label  # the data\n"
        "z, y ==> x : G_theta = mlp(256, dropout=0.1) -> sigmoid\n"
        "x -> y : D_phi = mlp(256) adversarial\n"
        "options {\n  beta = 4.0\n  kl = monte_carlo\n}\n"
    )
    assert kinds["model"] in Keyword.Namespace and kinds["gan"] in Name.Class
    assert kinds['"A GAN"'] in String
    assert kinds["data"] in Keyword.Declaration and kinds["x"] in Name
    assert kinds["# the data"] in Comment
    assert kinds["==>"] in Operator and kinds["->"] in Operator
    assert kinds["G_theta"] in Name.Function and kinds["D_phi"] in Name.Function
    assert kinds["mlp"] in Name.Builtin
    assert kinds["adversarial"] in Keyword and kinds["from"] in Keyword and kinds["options"] in Keyword
    assert kinds["256"] in Number and kinds["4.0"] in Number
    assert kinds["digits.label"] in Name.Namespace


def test_a_heads_trunk_is_a_label():
    kinds = _kinds("x, y -> z : Q_eta = head(D_phi) normal\n")
    assert kinds["head"] in Name.Builtin and kinds["D_phi"] in Name.Function and kinds["Q_eta"] in Name.Function


def test_the_entry_point_names_the_lexer():
    """pyproject registers the lexer under pygments.lexers; the entry point's target is this class."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split('[project.entry-points."pygments.lexers"]', 1)[1].split("\n[", 1)[0]
    found = re.search(r'^sgm\s*=\s*"([^"]+)"', section, re.M)
    assert found is not None
    module, _, attr = found.group(1).partition(":")
    assert getattr(import_module(module), attr) is SgmLexer


def test_pygments_finds_the_lexer_by_name_once_installed():
    installed = [ep for ep in metadata.entry_points(group="pygments.lexers") if ep.value.startswith("schemagm.")]
    if not installed:
        if os.environ.get("CI"):
            pytest.fail("CI installs the package: the pygments.lexers entry point must be registered")
        pytest.skip("the installed schemagm predates the entry point: run `pip install -e .` again")
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert type(get_lexer_by_name("sgm")).__name__ == "SgmLexer"
    assert type(get_lexer_for_filename("vae.sgm")).__name__ == "SgmLexer"
