"""`Q_eta = head(D_phi)` (a shared trunk): every wrong use is one error at the head's call, with
its message, line, column and hint (schemagm/graph/trunks.py); and through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from check_support import errors, one
from typer.testing import CliRunner

from schemagm.graph.build import parse

GAN = """model t
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
z, y ==> x : G_theta = mlp(8) -> sigmoid
x -> y : D_phi = mlp(8) adversarial
"""
#: where the call `head(...)` starts on the line `x, y -> z : Q_eta = head(...) normal`
CALL = len("x, y -> z : Q_eta = ") + 1


def test_the_shared_infogan_is_valid_and_its_head_names_its_trunk() -> None:
    g = parse(GAN + "x, y -> z : Q_eta = head(D_phi) normal\n")
    q = g.edge("Q_eta")
    assert q.trunk == "D_phi" and str(q.network) == "head(D_phi)" and q.group == "eta"
    assert g.edge("D_phi").trunk is None


def test_an_unknown_trunk_is_an_error_with_a_suggestion() -> None:
    d = one(GAN + "x, y -> z : Q_eta = head(D_ph) normal\n")
    assert d.message == "'head(D_ph)' names the network 'D_ph', but no edge has it"
    assert (d.span.line, d.span.column) == (7, CALL)
    assert d.hint == "networks on edges: D_phi, G_theta"
    d = one(GAN + "x, y -> z : Q_eta = head(D) normal\n")
    assert d.hint == "did you mean 'D_phi'? networks on edges: D_phi, G_theta"


def test_a_head_cannot_share_its_own_trunk_or_another_heads() -> None:
    d = one(GAN + "x, y -> z : Q_eta = head(Q_eta) normal\n")
    assert d.message == "Q_eta cannot share its own trunk" and (d.span.line, d.span.column) == (7, CALL)
    # two heads on one another: the second names the first, which is itself a head (no chain, no cycle)
    d = one(GAN + "x, y -> z : Q_eta = head(D_phi) normal\nx, y -> z : R_eta = head(Q_eta) normal\n")
    assert d.message == "Q_eta is itself a head ('head(D_phi)'); a head shares the trunk of a network that is no head"
    assert (d.span.line, d.span.column) == (
        8,
        CALL,
    ) and d.hint == "write `head(D_phi)`: every head on one trunk names it"
    found = errors(GAN + "x, y -> z : Q_eta = head(R_eta) normal\nx, y -> z : R_eta = head(Q_eta) normal\n")
    assert [(d.span.line, "is itself a head" in d.message) for d in found] == [(7, True), (8, True)]


@pytest.mark.parametrize("trunk", ["linear", "mlp", "mlp()"])
def test_the_trunk_must_be_a_network_with_a_body(trunk: str) -> None:
    spec = (
        "model t\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nlatent h : real[4]\n"
        f"x ==> h : H_eta = {trunk}\n"
        "h => x : G_theta = mlp(8) -> sigmoid\n"
        "x --> z : Q_eta = head(H_eta) normal\n"
        "z -> x : p_theta = mlp(8) bernoulli\n"
    )
    found = [d for d in errors(spec) if "trunk" in d.message]
    assert len(found) == 1, [d.message for d in errors(spec)]
    assert found[0].message == f"H_eta is '{trunk.removesuffix('()')}', which has no trunk for a head to share"
    assert (found[0].span.line, found[0].span.column) == (7, len("x --> z : Q_eta = ") + 1)
    assert found[0].hint == (
        "a head shares every layer but the last of an mlp with a hidden layer (`mlp(256)`) or of a conv_encoder"
    )
    assert (
        parse(spec.replace(f"H_eta = {trunk}\n", "H_eta = mlp(8)\n")).edge("Q_eta").trunk == "H_eta"
    )  # with a hidden layer


def test_a_head_reads_what_its_trunk_reads() -> None:
    text = GAN.replace("latent    z : normal[2]", "latent    z : normal[2]\nlatent    w : normal[3]")
    d = one(text + "z, y -> w : Q_eta = head(D_phi) normal\n")
    assert d.message == "the head reads z, but its trunk D_phi reads x"
    assert (d.span.line, d.span.column) == (8, 1) and d.hint == "a head reads what its trunk reads: write `x, y -> w`"
    # the indicator is no input (as for every network): `x, y -> z` reads x, as `x -> y` does
    parse(GAN + "x -> z : Q_eta = head(D_phi) normal\n")


def test_a_head_is_not_a_discriminator() -> None:
    d = one(GAN + "x -> y : E_psi = head(D_phi) adversarial\n")
    assert d.message == "a head is not a discriminator: the red edge's network cannot be 'head(D_phi)'"
    assert (d.span.line, d.span.column) == (7, len("x -> y : E_psi = ") + 1)


def test_a_head_in_another_group_needs_a_discriminators_trunk() -> None:
    spec = (
        "model t\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nlatent c : categorical[3]\nindicator y\n"
        "x, y --> z : q_eta = mlp(8) normal\n"
        "z, y -> x : p_theta = mlp(8) bernoulli\n"
        "x --> y : perfect adversarial\n"
        "x --> c : r_lambda = head(q_eta) categorical\n"
    )
    found = errors(spec)
    (d,) = [d for d in found if "held fixed" in d.message]
    assert d.message == (
        "a head in the group 'lambda' reads the trunk of q_eta (group 'eta') with its weights held fixed, which is "
        "exact only for a discriminator's trunk; q_eta is not a discriminator"
    )
    assert (d.span.line, d.span.column) == (9, len("x --> c : ") + 1)
    assert d.hint == "put the head in the trunk's group (`r_eta = head(q_eta)`), or give it its own network"


def test_a_head_in_the_trunks_group_shares_a_live_trunk() -> None:
    """Q_phi = head(D_phi): the MI term updates phi too (openai/InfoGAN's convention), and is valid."""
    g = parse(GAN + "x, y -> z : Q_phi = head(D_phi) normal\n")
    assert g.edge("Q_phi").trunk == "D_phi"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("head", "'head' needs the argument 'trunk'"),
        ("head(256)", "argument 'trunk' must be a name or string, got 256"),
        ("head(D_phi, 3)", "'head' takes at most 1 positional argument, got 2"),
    ],
)
def test_the_call_takes_one_network_name(call: str, message: str) -> None:
    d = one(GAN + f"x, y -> z : Q_eta = {call} normal\n")
    assert d.message == message and (d.span.line, d.span.column) == (7, CALL)


def test_a_head_needs_a_group() -> None:
    d = one(GAN + "x, y -> z : head(D_phi) normal\n")
    assert d.message == "the network 'head(D_phi)' has parameters but no group"
    assert (d.span.line, d.span.column) == (7, len("x, y -> z : ") + 1)


def test_the_command_line_shows_the_error_without_a_traceback(tmp_path: Path) -> None:
    from schemagm.cli.app import _register_all, app

    _register_all()
    spec = tmp_path / "bad.sgm"
    spec.write_text(GAN + "x, y -> z : Q_eta = head(D_ph) normal\n")
    res = CliRunner().invoke(app, ["check", str(spec)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"bad.sgm:7:{CALL}: error: 'head(D_ph)' names the network 'D_ph', but no edge has it" in res.output
