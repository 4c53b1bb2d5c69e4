"""A transformed spec as text: new name and title, the comments that still apply (schemagm.transform.text)."""

from __future__ import annotations

from conftest import SPECS
from conftest import catalog_graph as spec
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.graph.build import parse
from schemagm.transform.text import derived_name, derived_title

if not any(getattr(c, "name", None) == "equiv" for c in app.registered_commands):
    _register_all()
runner = CliRunner()


def transform(*args: str) -> str:
    res = runner.invoke(app, ["transform", *[str(a) for a in args]], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


def test_names_and_titles_say_what_was_applied() -> None:
    assert derived_name("infogan", "swap_nodes", ("x", "z")) == "infogan_swap_nodes_x_z"
    assert derived_name("vae", "activate_adversary", (None,)) == "vae_activate_adversary"
    assert derived_name("gan", "importance_weight", (8,)) == "gan_importance_weight_8"
    assert derived_name("vae", "degenerate_adversary", ("x -> y",)) == "vae_degenerate_adversary"  # not a plain word
    assert derived_title(spec("infogan"), "swap_processes") == "InfoGAN, after swap_processes"
    twice = spec("infogan").replace(title="InfoGAN, after swap_processes")
    assert derived_title(twice, "degenerate_adversary") == "InfoGAN, after swap_processes, then degenerate_adversary"


def test_comments_stay_where_what_they_describe_is_unchanged(tmp_path) -> None:
    text = transform("remove-edge", SPECS / "infogan.sgm", "Q_eta")
    g = parse(text)
    assert g.name == "infogan_remove_edge_Q_eta" and g.title == "InfoGAN, after remove_edge(Q_eta)"
    lines = text.splitlines()
    # header comments, then where the model came from
    assert (
        lines[0].startswith("# infogan.sgm: InfoGAN")
        and lines[4] == "# remove_edge(Q_eta) of infogan (" + str(SPECS / "infogan.sgm") + ")"
    )
    # untouched edges keep theirs; the removed edge's comment is gone
    assert any(
        line.startswith("z, y ==> x") and line.endswith("# dashed, hollow: implicit generator") for line in lines
    )
    assert any(line.startswith("x -> y") and line.endswith("# solid, red: discriminator") for line in lines)
    assert "code reconstruction" not in text
    assert any(line.startswith("indicator y") and line.endswith("# 1 = real, 0 = generated") for line in lines)


def test_rewritten_edges_lose_their_comments() -> None:
    text = transform("swap-processes", SPECS / "infogan.sgm")
    edges = [line for line in text.splitlines() if " : " in line and ("->" in line or "=>" in line)]
    assert len(edges) == 3 and all("#" not in line for line in edges)  # "# dashed, hollow" would now be wrong
    assert "# 1 = real, 0 = generated" in text  # the node declaration is unchanged


def test_changed_option_loses_its_comment_and_kept_ones_stay(tmp_path) -> None:
    src = tmp_path / "g.sgm"
    base = (SPECS / "iwgan.sgm").read_text().replace("importance_samples = 8", "importance_samples = 8  # k")
    base = base.replace("adversarial        = non_saturating", "adversarial        = non_saturating  # NS")
    src.write_text(base)
    text = transform("importance-weight", src, "3")
    assert "importance_samples = 3" in text and "# k" not in text and "# NS" in text
    assert parse(text).name == "iwgan_importance_weight_3"
