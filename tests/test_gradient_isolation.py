"""Adversarial models: each group's step touches only that group, and the adversary's loss
sends no gradient to the generator (its samples are detached)."""

from __future__ import annotations

import pytest
import torch
from conftest import SPECS
from reference.batches import batch_for

ADVERSARIAL = ["gan", "infogan", "aae", "ada", "aavae", "iwgan", "extra/vae_gan", "extra/ali", "extra/infogan_shared"]


def compiled(name: str):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(0)
    return compile_spec(SPECS / f"{name}.sgm")


def owners(model) -> set[str]:
    """Groups that own a red edge (read off the graph, not the compiler)."""
    return {e.group for e in model.graph.edges if e.adversarial and e.group}


def snapshot(model) -> dict[str, list[torch.Tensor]]:
    return {g: [p.detach().clone() for p in model.parameters_of(g)] for g in model.groups}


def changed(before: list[torch.Tensor], params) -> bool:
    return any(not torch.equal(b, p.detach()) for b, p in zip(before, params, strict=True))


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_groups_partition_the_parameters(name: str) -> None:
    model = compiled(name)
    seen: dict[int, str] = {}
    for g in model.groups:
        params = model.parameters_of(g)
        assert params, f"group {g} has no parameters"
        for p in params:
            assert id(p) not in seen, f"a parameter is in both {seen[id(p)]} and {g}"
            seen[id(p)] = g
    assert set(seen) == {id(p) for p in model.parameters()}
    assert owners(model), "an adversarial spec has an adversary group"
    assert owners(model) <= set(model.groups)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_stepping_one_group_changes_no_other(name: str) -> None:
    model = compiled(name)
    batch = batch_for(model.graph)
    for g in model.groups:
        before = snapshot(model)
        opt = torch.optim.SGD(model.parameters_of(g), lr=0.1)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        model.losses(batch)[g].backward()
        opt.step()
        assert changed(before[g], model.parameters_of(g)), f"{g}'s step did not change {g}"
        for other in model.groups:
            if other != g:
                assert not changed(before[other], model.parameters_of(other)), f"{g}'s step changed {other}"


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversary_loss_gives_no_gradient_to_the_generator(name: str) -> None:
    model = compiled(name)
    batch = batch_for(model.graph)
    for owner in owners(model):
        torch.manual_seed(2)
        loss = model.losses(batch)[owner]
        others = [p for g in model.groups if g not in owners(model) for p in model.parameters_of(g)]
        own = model.parameters_of(owner)
        grads = torch.autograd.grad(loss, others + own, allow_unused=True)
        for gr in grads[: len(others)]:
            assert gr is None or torch.count_nonzero(gr) == 0
        assert any(gr is not None and torch.count_nonzero(gr) > 0 for gr in grads[len(others) :])


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_one_backward_per_phase_gives_each_group_its_own_gradient(name: str) -> None:
    """A phase's loss sums the terms of its groups; a term has zero gradient for every group it
    does not update, so one backward pass of the phase gives each group the gradient of its own
    loss; and stepping the phase changes exactly the phase's groups."""
    model = compiled(name)
    batch = batch_for(model.graph)
    phase_groups = [set(p.groups) for p in model.objective.phases]
    assert set().union(*phase_groups) == set(model.groups)
    if owners(model):
        assert set(model.objective.phases[0].groups) == owners(model), "the adversary phase comes first"
    torch.manual_seed(3)
    contributions = model.terms(batch)  # one call: the same draws for every term
    assert set(contributions) == {t.name for t in model.objective.terms}
    for term in model.objective.terms:
        # the groups that step on a backward pass of this term's phase(s)
        stepping = {g for p in model.objective.phases if set(p.groups) & term.groups for g in p.groups}
        for g in stepping:
            grads = torch.autograd.grad(
                contributions[term.name], model.parameters_of(g), retain_graph=True, allow_unused=True
            )
            nonzero = any(gr is not None and torch.count_nonzero(gr) for gr in grads)
            assert nonzero == (g in term.groups), (
                f"{term.name}: gradient for {g} is {'non' if nonzero else ''}zero, groups {sorted(term.groups)}"
            )
    for phase in model.objective.phases:
        for g in phase.groups:  # one backward of the phase == the group's own loss, for the group
            params = model.parameters_of(g)
            torch.manual_seed(3)
            from_phase = torch.autograd.grad(model.phase_loss(phase.name, batch), params, allow_unused=True)
            torch.manual_seed(3)
            from_group = torch.autograd.grad(model.losses(batch)[g], params, allow_unused=True)
            for p, a, b in zip(params, from_phase, from_group, strict=True):
                a = torch.zeros_like(p) if a is None else a
                b = torch.zeros_like(p) if b is None else b
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        before = snapshot(model)
        opts = [torch.optim.Adam(model.parameters_of(g), lr=1e-2) for g in phase.groups]
        model.zero_grad(set_to_none=True)
        torch.manual_seed(4)
        model.phase_loss(phase.name, batch).backward()
        for o in opts:
            o.step()
        for g in model.groups:
            assert changed(before[g], model.parameters_of(g)) == (g in phase.groups), (phase.name, g)
