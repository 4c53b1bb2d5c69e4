"""``schemagm transform``, ``equiv`` and ``explain`` from the command line: output, files, exit codes, errors."""

from __future__ import annotations

from conftest import SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.graph.build import parse, parse_file
from schemagm.transform import degenerate_adversary, equivalent, swap_processes

if not any(getattr(c, "name", None) == "equiv" for c in app.registered_commands):
    _register_all()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def spec(name: str) -> str:
    return str(SPECS / f"{name}.sgm")


def test_transform_prints_canonical_sgm_that_parses_back() -> None:
    # G_theta's sigmoid would land on the normal latent z: refused, with the reason and where
    res = invoke("transform", "swap-nodes", spec("infogan"), "x", "z")
    assert res.exit_code == 1 and res.stdout == ""
    assert "in the result: 'sigmoid' gives values in (0, 1), but the prior p(z) (normal) has support" in res.stderr
    assert "infogan.sgm:11:1" in res.stderr and "Traceback" not in res.output
    res = invoke("transform", "swap-nodes", spec("infogan"), "x", "z", "--no-check")
    assert res.exit_code == 0, res.output
    assert "x, y ==> z : G_theta = mlp(256) -> sigmoid" in res.stdout
    res = invoke("transform", "swap-processes", spec("infogan"))
    assert res.exit_code == 0, res.output
    g = parse(res.stdout)
    assert g.name == "infogan_swap_processes" and g.title == "InfoGAN, after swap_processes"
    assert g == swap_processes(parse_file(spec("infogan"))).replace(name=g.name, title=g.title)
    assert equivalent(g, parse_file(spec("aavae")))


def test_every_transformation_from_the_command_line() -> None:
    cases = [
        (["swap-processes", spec("infogan")], "x --> y    : D_phi   = mlp(256) adversarial"),
        (["degenerate-adversary", spec("aavae")], "x --> y    : perfect adversarial"),
        (["degenerate-adversary", spec("aavae"), "--edge", "D_phi"], "x --> y    : perfect adversarial"),
        (
            ["activate-adversary", spec("vae"), "--network", "mlp(64, 64)", "--label", "C"],
            "x --> y    : C_phi   = mlp(64, 64) adversarial",
        ),
        (["importance-weight", spec("gan"), "8"], "importance_samples = 8"),
        (["remove-edge", spec("infogan"), "Q_eta"], None),
    ]
    for args, expected in cases:
        res = invoke("transform", *args)
        assert res.exit_code == 0, (args, res.output)
        graph = parse(res.stdout)
        if expected:
            assert expected in res.stdout, res.stdout
    assert equivalent(graph, parse_file(spec("gan")))  # the last one


def test_output_file_is_written_and_never_overwritten_without_force(tmp_path) -> None:
    out = tmp_path / "vae_from_infogan.sgm"
    res = invoke("transform", "swap-processes", spec("infogan"), "-o", out)
    assert res.exit_code == 0 and res.stdout == ""
    written = parse_file(out)
    assert written == swap_processes(parse_file(spec("infogan"))).replace(
        name="infogan_swap_processes", title=written.title
    )
    before = out.read_text()
    res = invoke("transform", "degenerate-adversary", out, "-o", out)
    assert res.exit_code == 1 and "is the input" in res.output and "never written over" in res.output
    res = invoke("transform", "degenerate-adversary", out, "-o", out, "--force")  # not even with --force
    assert res.exit_code == 1 and "is the input" in res.output
    assert out.read_text() == before
    other = tmp_path / "vae.sgm"
    other.write_text("mine")
    res = invoke("transform", "degenerate-adversary", out, "-o", other)
    assert res.exit_code == 1 and "already exists; it is not overwritten" in res.output and "--force" in res.output
    assert other.read_text() == "mine"
    res = invoke("transform", "degenerate-adversary", out, "-o", other, "--force")
    assert res.exit_code == 0
    assert equivalent(parse_file(other), parse_file(spec("vae")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.sgm", "vae_from_infogan.sgm"]  # no temporary left behind


def test_a_transformation_that_does_not_apply_is_a_caret_message() -> None:
    res = invoke("transform", "degenerate-adversary", spec("vae"))
    assert res.exit_code == 1
    assert "vae.sgm:12:1: error: degenerate_adversary does not apply to model 'vae'" in res.output
    assert "already a perfect adversary" in res.output and "^" in res.output and "Traceback" not in res.output
    res = invoke("transform", "swap-processes", spec("ae"))
    assert res.exit_code == 1 and "the result is not a valid model" in res.output and "--no-check" in res.output
    res = invoke("transform", "swap-processes", spec("ae"), "--no-check")
    assert res.exit_code == 0 and "x => z" in res.stdout
    res = invoke("transform", "swap-nodes", spec("infogan"), "x", "nope")
    assert res.exit_code == 1 and "there is no node 'nope'" in res.output
    res = invoke("transform", "swap-processes", SPECS / "missing.sgm")
    assert res.exit_code == 1 and "missing.sgm" in res.output and "Traceback" not in res.output


def test_usage_errors_exit_2() -> None:
    assert invoke("transform", "importance-weight", spec("gan"), "0").exit_code == 2
    assert invoke("transform", "swap-nodes", spec("gan"), "x").exit_code == 2
    assert invoke("transform", "no-such-thing", spec("gan")).exit_code == 2


def test_equiv_prints_the_mapping_or_the_differences(tmp_path) -> None:
    res = invoke("equiv", spec("beta_vae"), spec("vae"))
    assert res.exit_code == 0 and "structurally equivalent" in res.stdout
    assert "node x ↦ x" in res.stdout and "edge x, y --> z  (q_eta) ↦ x, y --> z  (q_eta)" in res.stdout
    res = invoke("equiv", spec("infogan"), spec("vae"))
    assert res.exit_code == 1
    assert "is dashed (inference) in A, solid in B" in res.stdout and "perfect adversary" in res.stdout
    renamed = (SPECS / "gan.sgm").read_text().replace("x", "img").replace("z", "noise")
    (tmp_path / "renamed.sgm").write_text(renamed)
    res = invoke("equiv", tmp_path / "renamed.sgm", spec("iwgan"), "--hash")
    assert res.exit_code == 0 and "node noise ↦ z" in res.stdout
    hashes = [line.split(": ")[1] for line in res.stdout.splitlines()[:2]]
    assert hashes[0] == hashes[1] and len(hashes[0]) == 64


def test_explain_prints_the_chain_or_exits_1() -> None:
    res = invoke("explain", spec("infogan"), spec("vae"))
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0] == "vae ≅ degenerate_adversary(swap_processes(infogan))"
    # the mapping the same way round as the header: vae's edge first, then the chain's
    assert "  edge z, y -> x  (p_theta) ≅ z, y => x  (G_theta)" in res.stdout.splitlines()
    assert "  edge x, y --> z  (q_eta) ≅ x, y --> z  (Q_eta)" in res.stdout.splitlines()
    assert equivalent(degenerate_adversary(swap_processes(parse_file(spec("infogan")))), parse_file(spec("vae")))
    res = invoke("explain", spec("infogan"), spec("vae"), "--max-depth", "1")
    assert res.exit_code == 1 and "no chain of at most 1 transformations maps infogan onto vae" in res.stdout
    res = invoke("explain", spec("aae"), spec("vae"), "--valid-only")
    assert res.exit_code == 1 and "through valid models" in res.stdout
    res = invoke("explain", spec("vae"), spec("iwae"))
    assert res.exit_code == 0 and "already structurally equivalent" in res.stdout


def test_help_has_examples() -> None:
    for args in (
        ["transform", "--help"],
        ["transform", "swap-nodes", "--help"],
        ["equiv", "--help"],
        ["explain", "--help"],
    ):
        res = invoke(*args)
        assert res.exit_code == 0 and "schemagm " in res.stdout and "Example" in res.stdout, args
