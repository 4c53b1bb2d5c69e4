"""The TextMate grammar of editors/vscode, run by VS Code's own engine (vscode-textmate + vscode-oniguruma).

The two npm packages are installed in a temporary folder (tests/textmate/package.json
pins them); the test is skipped only where node is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "sgm.tmLanguage.json"
HERE = Path(__file__).resolve().parent / "textmate"
SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "specs" / "extra").glob("*.sgm"))
ROOT_SCOPE = "source.sgm"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node is not installed"
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("textmate")
    for name in ("package.json", "package-lock.json", "tokenize.js"):
        shutil.copy(HERE / name, folder / name)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return folder


def _tokenize(engine: Path, files: list[Path]) -> dict[str, list[list[dict]]]:
    done = subprocess.run(
        ["node", str(engine / "tokenize.js"), str(GRAMMAR), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _untokenized(line: str, tokens: list[dict]) -> list[tuple[int, str]]:
    """Characters (not blanks) that no rule of the grammar matched: only the root scope."""
    out = []
    for t in tokens:
        if t["scopes"] == [ROOT_SCOPE]:
            out += [(i, line[i]) for i in range(t["start"], t["end"]) if not line[i].isspace()]
    return out


@needs_node
def test_every_catalog_spec_is_tokenized_completely(engine):
    result = _tokenize(engine, SPECS)
    assert len(result) == len(SPECS) >= 19
    for path in SPECS:
        lines = path.read_text().split("\n")
        tokenized = result[str(path)]
        assert len(tokenized) == len(lines)
        for number, (line, tokens) in enumerate(zip(lines, tokenized, strict=True), start=1):
            covered = sorted((t["start"], t["end"]) for t in tokens)
            assert covered[0][0] == 0 and covered[-1][1] == len(line), (path.name, number)
            assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False)), (path.name, number)  # no gap
            assert _untokenized(line, tokens) == [], (path.name, number, line)


@needs_node
def test_keywords_arrows_and_comments_get_their_scopes(engine, tmp_path):
    sample = tmp_path / "sample.sgm"
    sample.write_text(
        'model gan "A GAN"  # title\n'
        "data x : real[64] in [0, 1] from digits.label\n"
        "latent z : normal[16]\n"
        "indicator y\n"
        "z, y ==> x : G_theta = mlp(256, dropout=0.1) -> sigmoid\n"
        "x -> y : D_phi = mlp(256) adversarial\n"
        "x --> z : q_eta = mlp(8) normal no_reparam\n"
        "x => z : E_eta = linear()\n"
        "options {\n  beta = 4.0\n  kl = monte_carlo\n}\n"
        "x, y -> z : Q_eta = head(D_phi) normal\n"
    )
    lines = sample.read_text().split("\n")
    tokens = _tokenize(engine, [sample])[str(sample)]

    def scope(line: int, text: str, nth: int = 0) -> str:
        start = -1
        for _ in range(nth + 1):
            start = lines[line].index(text, start + 1)
        for t in tokens[line]:
            if t["start"] <= start < t["end"]:
                assert t["end"] - t["start"] >= 1
                return t["scopes"][-1]
        raise AssertionError(f"no token at {line}:{start}")

    assert scope(0, "model") == "keyword.other.model.sgm"
    assert scope(0, "gan") == "entity.name.type.model.sgm"
    assert scope(0, '"A GAN"') == "string.quoted.double.sgm"
    assert scope(0, "title") == "comment.line.number-sign.sgm"
    assert scope(1, "data") == "storage.type.role.sgm"
    assert scope(1, "x") == "variable.other.node.sgm"
    assert scope(1, "in") == "keyword.other.sgm" and scope(1, "from") == "keyword.other.sgm"
    assert scope(1, "64") == "constant.numeric.sgm"
    assert scope(2, "latent") == "storage.type.role.sgm" and scope(3, "indicator") == "storage.type.role.sgm"
    assert scope(4, "==>") == "keyword.operator.arrow.sgm"
    assert scope(4, "->") == "keyword.operator.arrow.sgm"
    assert scope(5, "->") == "keyword.operator.arrow.sgm"
    assert scope(6, "-->") == "keyword.operator.arrow.sgm"
    assert scope(7, "=>") == "keyword.operator.arrow.sgm"
    assert scope(4, "G_theta") == "entity.name.function.label.sgm"
    assert scope(4, "mlp") == "support.function.sgm"
    assert scope(4, "sigmoid") == "support.type.sgm"
    assert scope(5, "adversarial") == "storage.modifier.flag.sgm"
    assert scope(6, "no_reparam") == "storage.modifier.flag.sgm"
    assert scope(8, "options") == "keyword.other.sgm"
    assert scope(9, "4.0") == "constant.numeric.sgm"
    assert scope(12, "head") == "support.function.sgm" and scope(12, "Q_eta") == "entity.name.function.label.sgm"
    assert scope(12, "D_phi") == "entity.name.function.label.sgm"
    # the arrows are one token each: `-->` is not `-` + `->`
    arrow = next(t for t in tokens[6] if t["scopes"][-1] == "keyword.operator.arrow.sgm")
    assert arrow["end"] - arrow["start"] == 3


def test_the_extension_declares_the_grammar_and_starts_the_server():
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "sgm" and language["extensions"] == [".sgm"]
    assert (VSCODE / language["configuration"]).is_file()
    (grammar,) = manifest["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert json.loads(GRAMMAR.read_text())["scopeName"] == grammar["scopeName"] == ROOT_SCOPE
    settings = manifest["contributes"]["configuration"]["properties"]
    assert settings["schemagm.server.command"]["default"] == "schemagm"
    assert settings["schemagm.server.args"]["default"] == ["lsp"]
    assert json.loads((VSCODE / "language-configuration.json").read_text())["comments"]["lineComment"] == "#"
    assert (VSCODE / manifest["main"]).is_file()


@needs_node
def test_the_extension_script_is_valid_javascript():
    done = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
