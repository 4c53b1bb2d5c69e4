"""One representation per term: the rule's terms are expression trees (schemagm/compiler/ir.py);
their value, their formula and their Python source all come from the tree.  Property: evaluating
a term's source form on a call gives the term's value on that call (catalog, extra specs, random
hierarchies with discrete tops)."""

from __future__ import annotations

import pytest
import torch
from conftest import SPECS
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.batches import batch_for
from strategies import hierarchies

SPEC_FILES = sorted(SPECS.glob("*.sgm")) + sorted((SPECS / "extra").glob("*.sgm"))


def compiled(spec, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(spec)


def check_source_forms(model, batch) -> int:
    from schemagm.compiler.ir import Opaque, namespace, walk

    torch.manual_seed(7)
    run = model.run(batch)
    values = {t.name: model._contribution(run, t.name) for t in model.objective.terms}
    checked = 0
    for t in model.objective.terms:
        expr = model._exprs.get(t.name)
        assert expr is not None, f"{t.name} has no expression tree"
        if any(isinstance(e, Opaque) for e in walk(expr)):
            continue  # walkback chains (a closure inside the tree)
        source = expr.py()
        got = eval(source, namespace(run))  # noqa: S307 - our own emitted source
        label = f"{t.name}: {source}"
        torch.testing.assert_close(
            t.sign * t.weight * got, values[t.name], rtol=1e-6, atol=1e-6, msg=lambda m, label=label: f"{label}: {m}"
        )
        assert t.formula.endswith(expr.sym().u) and t.latex.endswith(expr.sym().tex)
        checked += 1
    return checked


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_every_rule_term_of_a_spec_evaluates_from_its_source_form(path) -> None:
    model = compiled(path)
    n = check_source_forms(model, batch_for(model.graph, n=8))
    opaque = [t.name for t in model.objective.terms if t.kind == "walkback"]
    assert n == len(model.objective.terms) - len(opaque), opaque


@settings(max_examples=15, deadline=None)
@given(h=hierarchies(), seed=st.integers(0, 50))
def test_random_hierarchies_evaluate_from_their_source_forms(h, seed: int) -> None:
    model = compiled(h.text, seed)
    x = (torch.rand(4, h.x_dim) > 0.5).float()
    assert check_source_forms(model, {"x": x}) == len(model.objective.terms)


def test_aavae_prints_and_evaluates_the_pool() -> None:
    model = compiled(SPECS / "aavae.sgm")
    f = model.objective.term("nll:p_theta").formula
    assert f.startswith("−(𝔼_{p_data(x)} sg(D_φ(x))·[") and "sg(D_φ(𝔼p_θ(x|z)))" in f
    n = check_source_forms(model, batch_for(model.graph, n=8))
    assert n == len(model.objective.terms) == 3  # the adversary's term too


@pytest.mark.parametrize("form", ["minimax", "non_saturating", "least_squares", "hinge", "wasserstein"])
@pytest.mark.parametrize("spec", ["gan", "aae"])
def test_every_adversarial_form_is_one_tree(form: str, spec: str) -> None:
    """Owner and reversed terms of every form (and the Wasserstein gradient penalty): the source
    form gives the value, the formula is the tree's."""
    from schemagm.compiler.ir import walk
    from schemagm.compiler.ir_games import GradPenalty, Side

    text = (SPECS / f"{spec}.sgm").read_text()
    if "adversarial =" in text:
        text = text.replace("adversarial = non_saturating", f"adversarial = {form}")
    else:
        text += f"\noptions {{\n  adversarial = {form}\n}}\n"
    model = compiled(text)
    assert check_source_forms(model, batch_for(model.graph, n=8)) == len(model.objective.terms)
    kinds = {t.name.split(":")[0] for t in model.objective.terms}
    assert {"adversary", "reversed"} <= kinds
    assert ("gradient_penalty" in kinds) == (form == "wasserstein")
    for t in model.objective.terms:
        nodes = list(walk(model._exprs[t.name]))
        if t.name.startswith(("adversary", "reversed")):
            assert any(isinstance(n, Side) for n in nodes)
            assert all(n.frozen == t.name.startswith("reversed") for n in nodes if isinstance(n, Side))
        if t.name.startswith("gradient_penalty"):
            assert isinstance(nodes[0], GradPenalty)


FLOW_SPECS = {"flow2d", "dequant_flow", "vdequant_flow", "vae_flow_prior", "vae_iaf", "kde"}


def _fitted(path):
    model = compiled(path)
    batch = batch_for(model.graph, n=8)
    if getattr(model, "nonparametric", False):
        model.fit({k: v[:5] for k, v in batch.items()})  # five training points: a kernel density
    return model, batch


@pytest.mark.parametrize("name", sorted(FLOW_SPECS))
def test_flow_terms_and_bounds_are_trees_of_flow_factors(name: str) -> None:
    """The flow path's terms are trees of the IR's flow factors (a log-determinant, a
    dequantization density, an exact sum over an empirical latent), and so are its bounds: the
    log-weight of ``elbo`` and the k-sample bound evaluate from their source forms too."""
    from schemagm.compiler.ir import namespace, walk
    from schemagm.compiler.ir_flows import DequantLogQ, FlowLogDet, Marginal

    model, batch = _fitted(SPECS / "extra" / f"{name}.sgm")
    assert check_source_forms(model, batch) == len(model.objective.terms)
    kinds = {type(n) for t in model._exprs.values() for n in walk(t)} | {type(n) for n in walk(model._log_w)}
    assert kinds & {FlowLogDet, DequantLogQ, Marginal}, kinds
    torch.manual_seed(3)
    run = model.run(batch)
    trees = [model._log_w] + ([] if model.exact else [model._iw(3)])
    for tree in trees:
        want = tree.eval(run, "y=1")
        got = eval(tree.py("y=1"), namespace(run))  # noqa: S307 - our own emitted source
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
        assert want.shape == (8,)
    torch.manual_seed(3)
    elbo = model.elbo(batch)
    torch.manual_seed(3)
    torch.testing.assert_close(elbo, trees[0].eval(model.run(batch), "y=1"))


def test_the_flow_specs_are_exactly_those_compiled_by_the_flow_model() -> None:
    from schemagm.graph.build import parse_file
    from schemagm.graph.flow_check import uses_flows

    assert {p.stem for p in SPEC_FILES if uses_flows(parse_file(p))} == FLOW_SPECS
