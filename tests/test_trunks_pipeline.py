"""A shared trunk (`Q_eta = head(D_phi)`) through the rest of the pipeline (issue 10): the fmt round
trip and the data form, the drawing (one trunk, seen by a reader), the transformations (a valid graph
or a clear error) and structural equivalence."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import SPECS
from typer.testing import CliRunner

from schemagm.errors import SpecError
from schemagm.graph.build import format_text, parse, parse_file, to_sgm
from schemagm.graph.model import SchematicGraph

SHARED = SPECS / "extra" / "infogan_shared.sgm"


# -- fmt and the data form ---------------------------------------------------------------------------
def test_fmt_is_a_fixed_point_and_keeps_the_head() -> None:
    text = SHARED.read_text()
    assert format_text(text) == text  # the shipped spec is canonical, comments kept
    g = parse(text)
    canonical = to_sgm(g)
    assert "x, y -> z  : Q_eta   = head(D_phi) normal" in canonical
    assert parse(canonical) == g and to_sgm(parse(canonical)) == canonical


def test_a_quoted_trunk_name_prints_bare_and_means_the_same() -> None:
    text = SHARED.read_text().replace("= head(D_phi)", '= head("D_phi")')
    assert parse(text) == parse_file(SHARED)
    assert '"D_phi"' in text and format_text(text) == SHARED.read_text()


def test_the_data_form_keeps_the_head() -> None:
    g = parse_file(SHARED)
    back = SchematicGraph.from_json(g.to_json())
    assert back == g and back.edge("Q_eta").trunk == "D_phi"


def test_fmt_check_passes_through_the_command_line() -> None:
    from schemagm.cli.app import _register_all, app

    _register_all()
    res = CliRunner().invoke(app, ["fmt", "--check", str(SHARED)])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output


# -- the drawing -------------------------------------------------------------------------------------
def test_the_drawing_shows_one_trunk() -> None:
    from schemagm.render import drawing, to_dot, to_mermaid

    d = drawing(parse_file(SHARED))
    (q,) = [a for a in d["panels"][0]["edges"] if a["label"] and a["label"]["text"].startswith("Q")]
    assert q["label"]["text"] == "Q_η = head(D_φ)"
    assert q["label"]["html"] == "<i>Q</i><sub>η</sub> = head(<i>D</i><sub>φ</sub>)"
    assert q["trunk"] == "D_phi" and "shares the trunk of D_phi" in q["tooltip"]
    assert d["caption"] == (
        "shared trunk: Q_η = head(D_φ): Q_η's last layer on every layer of D_φ but its last (one module, D_φ's "
        "parameters)"
    )
    assert "head(<i>D</i><sub>φ</sub>)" in to_dot(d)
    assert "head(<i>D</i><sub>φ</sub>)" in to_mermaid(d)
    # the plain InfoGAN has two networks and no such note
    plain = drawing(parse_file(SPECS / "infogan.sgm"))
    assert plain["caption"] is None
    assert all("head" not in (a["label"] or {}).get("text", "") for a in plain["panels"][0]["edges"])


def test_render_writes_the_picture(tmp_path: Path) -> None:
    from schemagm.cli.app import _register_all, app
    from schemagm.render import dot_available

    if not dot_available():
        pytest.skip("graphviz dot is not installed")
    _register_all()
    out = tmp_path / "shared.svg"
    res = CliRunner().invoke(app, ["render", str(SHARED), "-o", str(out)])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    svg = out.read_text()
    assert "head(" in svg and "shared trunk" in svg


# -- transformations -----------------------------------------------------------------------------------
def test_swap_processes_keeps_the_head_and_compiles() -> None:
    from schemagm.compiler import compile as c
    from schemagm.transform import swap_processes

    g = swap_processes(parse_file(SHARED))
    q = g.edge("Q_eta")
    assert q.trunk == "D_phi" and q.line == "dashed" and g.edge("D_phi").line == "dashed"
    assert swap_processes(g).to_dict()["edges"] == parse_file(SHARED).to_dict()["edges"]  # an involution
    torch.manual_seed(0)
    model = c(g)
    from reference.batches import batch_for

    losses = model.losses(batch_for(model.graph))
    assert all(math.isfinite(float(v.detach())) for v in losses.values())
    # the trunk is still phi's: the inference edge's terms leave it alone
    trunk = model.parameters_of("phi")
    grads = torch.autograd.grad(losses["eta"], trunk, allow_unused=True, retain_graph=True)
    assert all(gr is None for gr in grads)


def test_degenerating_the_adversary_gives_the_head_its_own_network() -> None:
    """Without D there is no trunk to share: Q gets a whole network of D's architecture, and
    swap_processes then degenerate_adversary is the VAE, as for the plain InfoGAN."""
    from schemagm.transform import degenerate_adversary, equivalent, swap_processes

    g = degenerate_adversary(parse_file(SHARED), check=False)  # (a solid perfect adversary: not a model)
    q = g.edge("Q_eta")
    assert q.trunk is None and str(q.network) == "mlp(256)" and q.group == "eta"
    vae = parse_file(SPECS / "vae.sgm")
    assert equivalent(degenerate_adversary(swap_processes(parse_file(SHARED))), vae)
    assert degenerate_adversary(swap_processes(parse_file(SHARED))).edge("Q_eta").trunk is None


def test_removing_the_trunks_edge_is_a_clear_error() -> None:
    from schemagm.transform import remove_edge

    with pytest.raises(SpecError) as info:
        remove_edge(parse_file(SHARED), "D_phi")
    assert "'head(D_phi)' names the network 'D_phi', but no edge has it" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_the_transform_command_prints_the_swapped_spec() -> None:
    from schemagm.cli.app import _register_all, app

    _register_all()
    res = CliRunner().invoke(app, ["transform", "swap-processes", str(SHARED)])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    assert "x, y --> z : Q_eta   = head(D_phi) normal" in res.output
    res = CliRunner().invoke(app, ["transform", "remove-edge", str(SHARED), "D_phi"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "no edge has it" in res.output


# -- equivalence ---------------------------------------------------------------------------------------
def test_sharing_a_trunk_is_decoration_for_structural_equivalence() -> None:
    """The same graph with Q's own network or Q on D's trunk: the rule reads the same structure (a
    head is part of its network, like the call); the drawing's note tells them apart."""
    from schemagm.transform import equivalent, structural_hash

    a, b = parse_file(SPECS / "infogan.sgm"), parse_file(SHARED)
    assert equivalent(a, b) and structural_hash(a) == structural_hash(b)
    assert a != b  # but not the same graph


# -- eject -----------------------------------------------------------------------------------------------
def test_the_ejected_script_builds_one_shared_trunk(tmp_path: Path) -> None:
    """The script's Q_eta runs its own layer on D_phi's module (the same parameters, not a copy), and
    `compile --emit python` runs over the compiled model's own networks too."""
    from eject_support import load_script, networks_like
    from reference.batches import batch_for
    from reference.compare import TOL

    from schemagm.compiler import compile as c
    from schemagm.eject import eject, loss_function

    torch.manual_seed(0)
    model = c(SHARED)
    module = load_script(eject(model), tmp_path, "shared")
    nets = module.Networks()
    assert nets.Q_eta.shared[0] is nets.D_phi
    assert {id(p) for p in nets.Q_eta.parameters()}.isdisjoint(id(p) for p in nets.D_phi.parameters())
    assert [k for k in nets.state_dict() if k.startswith("Q_eta")] == ["Q_eta.0.weight", "Q_eta.0.bias"]
    nets = networks_like(module, model)
    loss_only = load_script(loss_function(model), tmp_path, "shared_loss")
    batch = batch_for(model.graph, n=8)
    torch.manual_seed(5)
    got = model.losses(batch)
    draws = dict(model.last_draws)
    for mine in (
        module.losses(nets, batch, module.Noise(draws)),
        loss_only.losses(model.networks, batch, loss_only.Noise(draws)),
    ):
        for g in model.groups:
            torch.testing.assert_close(mine[g], got[g], **TOL)
    # the script's trunk is phi's only: eta's loss leaves it without a gradient
    mine = module.losses(nets, batch, module.Noise(draws))
    grads = torch.autograd.grad(mine["eta"], list(nets.D_phi.parameters()), allow_unused=True)
    assert all(gr is None for gr in grads)
