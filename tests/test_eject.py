"""``schemagm eject``: every spec as one standalone PyTorch script, printed from the objective IR.

The ejected script's per-group losses and gradients equal the compiled model's on the same batch
and the same draws (the compiled model's ``last_draws``, replayed by the script's ``Noise``); the
text is ruff-clean; every spec of specs/ and specs/extra ejects (partially observed nodes and the
kernel density's memorised points included); a construct the emitter cannot print (a flow
graph's importance-weighted bound) is refused with a position."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import SPECS
from eject_support import assert_same, assert_script_matches, load_script, networks_like
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.batches import batch_for
from reference.compare import TOL
from strategies import hierarchies

from schemagm.errors import SpecError

SPEC_FILES = sorted(SPECS.glob("*.sgm")) + sorted((SPECS / "extra").glob("*.sgm"))


def _compiled(path: Path, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(path)


FLOW_SPECS = ["flow2d", "dequant_flow", "vdequant_flow", "vae_flow_prior", "vae_iaf"]


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_the_ejected_losses_and_gradients_are_the_compiled_models(path: Path, tmp_path: Path) -> None:
    from schemagm.eject import eject

    model = _compiled(path)
    module = load_script(eject(model), tmp_path, path.stem)
    nets = networks_like(module, model)
    for seed in (3, 4):  # two calls: fresh draws each time
        batch = batch_for(model.graph, n=8)  # a partially observed label: observed on every other row
        torch.manual_seed(seed)
        got = model.losses(batch)
        draws = dict(model.last_draws)
        mine = module.losses(nets, batch, module.Noise(draws))
        assert_same(model, got, mine, module, nets, f"{path.stem} (seed {seed})")


@pytest.mark.parametrize("name", ["vae", "gan", "iwae", "dae"])
def test_a_seed_gives_the_compiled_models_own_draws(name: str, tmp_path: Path) -> None:
    """Without replayed draws, the script's keyed streams draw what the compiler draws: the same
    global seed gives the same losses (so a trained script follows schemagm train's run)."""
    from schemagm.eject import eject

    model = _compiled(SPECS / f"{name}.sgm")
    module = load_script(eject(model), tmp_path, name)
    nets = networks_like(module, model)
    batch = batch_for(model.graph, n=8)
    torch.manual_seed(11)
    got = model.losses(batch)
    torch.manual_seed(11)
    noise = module.Noise()
    mine = module.losses(nets, batch, noise)
    assert set(noise.drawn) == set(model.last_draws)
    assert_same(model, got, mine, module, nets, name)


def test_every_ejected_script_is_ruff_clean(tmp_path: Path) -> None:
    """ruff check (pyflakes, pycodestyle, isort, pyupgrade, bugbear) and ruff format --check, with
    ruff's defaults (--isolated: a user's project, not this one)."""
    from schemagm.eject import eject

    ruff = pytest.importorskip("ruff.__main__").find_ruff_bin()
    written = []
    for path in SPEC_FILES:
        out = tmp_path / f"{path.stem}.py"
        out.write_text(eject(path), encoding="utf-8")
        written.append(out)
    check = subprocess.run(
        [ruff, "check", "--isolated", "--select", "E,F,W,I,UP,B", *map(str, written)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", *map(str, written)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_the_script_reads_like_the_paper(tmp_path: Path) -> None:
    """Classes named after the symbols, one optimiser per group, every term's formula above its line,
    no interpreter (no dispatch over node or context names)."""
    from schemagm.eject import eject

    model = _compiled(SPECS / "gan.sgm")
    text = eject(model)
    assert "class G_theta(nn.Sequential):" in text and "class D_phi(nn.Sequential):" in text
    assert not re.search(r"^\s*(import|from) schemagm", text, re.MULTILINE)
    for t in model.objective.terms:
        assert f"# {t.name} [" in text
        assert t.formula.split(" ")[0] in text
    assert text.index("def adversary_terms") < text.index("def model_terms")
    assert text.index('update(optimizers, loss, ["phi"])') < text.index('update(optimizers, loss, ["theta"])')
    assert "value(" not in text and "dist(" not in text  # the IR's namespace is gone: plain variables


def test_the_flow_specs_eject() -> None:
    from schemagm.eject import eject

    for name in FLOW_SPECS:
        text = eject(SPECS / "extra" / f"{name}.sgm")
        assert "import zuko" in text and "class Networks" in text, name
    text = eject(SPECS / "extra" / "vdequant_flow.sgm")
    assert "class q_eta(Dequantization):" in text and "zuko.flows.LazyInverse(" in text
    assert 'noise.take("noise:q_eta"' in text and "class f_theta(Flow):" in text


def test_a_flow_graphs_importance_weighted_bound_is_refused_at_its_option(tmp_path: Path) -> None:
    """The one construct of the language eject still cannot print: it is an error at the option's
    line, never a broken script."""
    from schemagm.eject import eject

    spec = tmp_path / "iw_iaf.sgm"
    spec.write_text((SPECS / "extra" / "vae_iaf.sgm").read_text() + "options {\n  importance_samples = 4\n}\n")
    with pytest.raises(SpecError) as info:
        eject(spec)
    err = info.value
    assert "importance-weighted bound" in err.message and "Traceback" not in str(err)
    lines = spec.read_text().splitlines()
    assert err.span is not None and lines[err.span.line - 1].strip() == "importance_samples = 4"
    assert err.span.column == 3 and "^^^" in str(err)


def test_ejecting_leaves_the_callers_random_stream_alone() -> None:
    from schemagm.eject import eject

    torch.manual_seed(5)
    before = torch.get_rng_state()
    eject(SPECS / "vae.sgm")
    assert torch.equal(before, torch.get_rng_state())


def test_the_loss_function_alone_runs_on_the_compiled_models_networks(tmp_path: Path) -> None:
    """``compile --emit python``'s module: ``losses(model.networks, batch, Noise(model.last_draws))``."""
    from schemagm.eject import loss_function

    model = _compiled(SPECS / "infogan.sgm")
    text = loss_function(model)
    assert "class Networks" not in text and "def main" not in text and "argparse" not in text
    module = load_script(text, tmp_path, "infogan_loss")
    batch = batch_for(model.graph, n=8)
    torch.manual_seed(2)
    got = model.losses(batch)
    mine = module.losses(model.networks, batch, module.Noise(dict(model.last_draws)))
    for g in model.groups:
        torch.testing.assert_close(mine[g], got[g], **TOL)


@pytest.mark.parametrize("name", ["dequant_flow", "vdequant_flow"])
def test_the_loss_function_alone_runs_on_a_flow_models_networks(name: str, tmp_path: Path) -> None:
    """A flow graph's loss functions over ``model.networks`` itself (its network keys are not all
    identifiers: the uniform dequantization is ``x->v``), on the compiled model's draws."""
    from schemagm.eject import loss_function

    model = _compiled(SPECS / "extra" / f"{name}.sgm")
    module = load_script(loss_function(model), tmp_path, f"{name}_loss")
    batch = batch_for(model.graph, n=8)
    torch.manual_seed(6)
    got = model.losses(batch)
    mine = module.losses(model.networks, batch, module.Noise(dict(model.last_draws)))
    assert set(mine) == set(got) == set(model.groups)
    for g in model.groups:
        torch.testing.assert_close(mine[g], got[g], **TOL)


def test_an_unknown_layer_is_a_clear_error() -> None:
    from torch import nn

    from schemagm.eject.modules import network_class

    with pytest.raises(SpecError, match="GRU has no emitted form"):
        network_class("G_theta", nn.Sequential(nn.GRU(2, 2)), "doc", set())


@settings(max_examples=8, deadline=None)
@given(h=hierarchies(), seed=st.integers(0, 50))
def test_random_hierarchies_eject_to_the_same_losses(h, seed: int) -> None:
    """Random hierarchies (top-down and bottom-up, discrete tops enumerated or scored): graphs no
    spec file holds print through the same walk."""
    import tempfile

    from schemagm.compiler import compile as compile_spec
    from schemagm.eject import eject

    torch.manual_seed(seed)
    model = compile_spec(h.text)
    with tempfile.TemporaryDirectory() as folder:
        module = load_script(eject(model), Path(folder), f"chain_{seed}")
    nets = networks_like(module, model)
    batch = {"x": (torch.rand(4, 6) > 0.5).float()}
    torch.manual_seed(seed + 1)
    got = model.losses(batch)
    mine = module.losses(nets, batch, module.Noise(dict(model.last_draws)))
    assert_same(model, got, mine, module, nets, h.text)


def test_a_term_or_network_without_an_emitted_form_is_refused_at_its_edge() -> None:
    """A term whose source form names something the emitter does not know, and a network of a
    layer it does not know, are errors at their edge's line, never a broken script."""
    from dataclasses import dataclass

    from torch import nn

    from schemagm.compiler.ir import Expr
    from schemagm.eject import eject

    @dataclass(eq=False)
    class Mystery(Expr):
        edge: object

        def py(self, ctx: str | None = None) -> str:
            return "mystery('y=0')"

    model = _compiled(SPECS / "vae.sgm")
    q = next(i for i in model._infos if i.name == "q_eta")
    model._exprs["kl:q_eta"] = Mystery(q)
    with pytest.raises(SpecError) as info:
        eject(model)
    assert "the term kl:q_eta" in info.value.message and "'mystery'" in info.value.message
    assert info.value.span is not None and info.value.span.line == q.edge.span.line
    assert "^" in str(info.value)

    model = _compiled(SPECS / "vae.sgm")
    model.networks["p_theta"] = nn.Sequential(nn.GRU(8, 64))
    p = next(i for i in model._infos if i.name == "p_theta")
    with pytest.raises(SpecError) as info:
        eject(model)
    assert "the network p_theta" in info.value.message and "GRU has no emitted form" in info.value.message
    assert info.value.span is not None and info.value.span.line == p.edge.span.line


UNLABELLED = """model idn
data   x : real[4] in [0, 1]
latent z : normal[4]
latent h : real[4]
x --> z : q_eta = mlp(8) normal
z ==> h : identity
h -> x  : p_theta = mlp(8) bernoulli
"""


def test_a_network_without_a_label_is_called_by_its_edge_key(tmp_path: Path) -> None:
    """A parameter-free network with no label (``z ==> h : identity``) is kept under its edge's key
    ``z->h``, which is no Python name: the script calls it through getattr, parses, and gives the
    compiled model's losses and gradients (it was once emitted as ``nets.z->h(z)``)."""
    from schemagm.compiler import compile as compile_spec
    from schemagm.eject import eject

    torch.manual_seed(0)
    model = compile_spec(UNLABELLED)
    text = eject(model)
    assert "getattr(nets, 'z->h')" in text or 'getattr(nets, "z->h")' in text
    module = load_script(text, tmp_path, "unlabelled")
    assert_script_matches(model, module, {"x": (torch.rand(5, 4) > 0.5).float()}, "unlabelled identity")


def test_a_script_that_does_not_parse_is_refused_before_it_is_written() -> None:
    from schemagm.eject.script import valid_python

    assert valid_python("x = 1\n") == "x = 1\n"
    with pytest.raises(SpecError) as info:
        valid_python("x = 1\ny = nets.z->h(z)\n")
    assert info.value.message.startswith("internal error: the ejected script is not valid Python at its line 2")
    assert "nets.z->h(z)" in info.value.message and "nothing was written" in str(info.value)


REAL_DRAWN_DISCRETE = """model er
data   x : real[4] in [0, 1]
latent z : normal[2]
latent h : real[2] in [0, 1]
x --> z : e_eta   = mlp(8) normal
x --> h : q_eta   = mlp(8) bernoulli
z -> h  : r_theta = mlp(8) bernoulli
h -> x  : p_theta = mlp(8) bernoulli
"""


def test_a_real_node_drawn_by_a_discrete_head_is_enumerated_in_the_script(tmp_path: Path) -> None:
    """h is declared real but drawn by a bernoulli head, so the compiler sums over the head's four
    values (Σ_h); the script takes each value as the compiler planned it (it once looked the value
    up in the support of 'real' and crashed) and gives the same losses and gradients."""
    from schemagm.compiler import compile as compile_spec
    from schemagm.eject import eject

    torch.manual_seed(0)
    model = compile_spec(REAL_DRAWN_DISCRETE)
    assert "Σ_h q_η(h|x)" in model.objective.loss_formula("theta")  # the exact sum over h's values
    module = load_script(eject(model), tmp_path, "real_drawn_discrete")
    batch = {"x": (torch.rand(5, 4) > 0.5).float()}
    assert_script_matches(model, module, batch, "real node, bernoulli head")
