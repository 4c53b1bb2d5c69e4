"""Models outside the catalog, compiled by the same rule: ALI/BiGAN, VAE-GAN, conditional VAE,
a convolutional VAE and the 2-D ring models; and the clear errors for graphs the rule cannot
compile."""

from __future__ import annotations

import math
import re

import pytest
import torch
from conftest import SPECS
from reference.batches import batch_for

from schemagm.errors import SpecError

EXTRA = sorted(p.stem for p in (SPECS / "extra").glob("*.sgm"))


def compile_spec(spec):
    from schemagm.compiler import compile as c

    return c(spec)


def train(model, batch, steps: int = 20, lr: float = 1e-3) -> list[dict[str, float]]:
    """One Adam per group, phases in order (the adversary first), ``steps`` model steps."""
    opts = {g: torch.optim.Adam(model.parameters_of(g), lr=lr) for g in model.groups}
    history = []
    for _ in range(steps):
        for phase in model.objective.phases:
            for _ in range(phase.steps):
                for g in phase.groups:
                    opts[g].zero_grad(set_to_none=True)
                model.phase_loss(phase.name, batch).backward()
                for g in phase.groups:
                    opts[g].step()
        with torch.random.fork_rng(), torch.no_grad():  # the same draws each time: the change is the training's
            torch.manual_seed(99)
            history.append({g: float(v) for g, v in model.losses(batch).items()})
    return history


def test_the_extras_are_there() -> None:
    assert {"ali", "vae_gan", "cvae", "conv_vae", "gan2d", "vae2d"} <= set(EXTRA)


@pytest.mark.parametrize("name", EXTRA)
def test_extra_spec_compiles_and_trains(name: str) -> None:
    torch.manual_seed(0)
    model = compile_spec(SPECS / "extra" / f"{name}.sgm")
    batch = batch_for(model.graph, n=16)
    history = train(model, batch)
    for g in model.groups:
        values = [h[g] for h in history]
        assert all(math.isfinite(v) for v in values), (g, values)
        assert values[0] != values[-1], f"{g}'s loss did not change"
    owners = {e.group for e in model.graph.edges if e.adversarial and e.group}
    for g in set(model.groups) - owners:  # the non-adversary losses go down on a fixed batch
        if not owners:
            assert history[-1][g] < history[0][g], (g, history[0][g], history[-1][g])


def test_ali_terms_cover_both_branches() -> None:
    """ALI's generator and encoder both play against D: the reversed term of the pair (x, z)
    keeps the real branch (z = E(x), depends on eta) and the generated one (x = G(z), theta)."""
    torch.manual_seed(0)
    model = compile_spec(SPECS / "extra" / "ali.sgm")
    assert set(model.groups) == {"eta", "theta", "phi"}
    batch = batch_for(model.graph)
    losses = model.losses(batch)
    for g in ("eta", "theta"):
        grads = torch.autograd.grad(losses[g], model.parameters_of(g), allow_unused=True, retain_graph=True)
        assert all(gr is not None for gr in grads) and any(torch.count_nonzero(gr) for gr in grads)


def test_cvae_label_feeds_encoder_and_decoder() -> None:
    """Changing only the label changes the loss: c reaches both networks."""
    torch.manual_seed(0)
    model = compile_spec(SPECS / "extra" / "cvae.sgm")
    batch = batch_for(model.graph)
    assert batch["c"].dtype == torch.long
    torch.manual_seed(1)
    a = model.losses(batch)
    other = dict(batch, c=(batch["c"] + 1) % 10)
    torch.manual_seed(1)
    b = model.losses(other)
    for g in ("theta", "eta"):
        assert not torch.allclose(a[g], b[g])
    enc_in = [m for m in model.networks["q_eta"].modules() if isinstance(m, torch.nn.Linear)][0].in_features
    dec_in = [m for m in model.networks["p_theta"].modules() if isinstance(m, torch.nn.Linear)][0].in_features
    assert enc_in == 64 + 10 and dec_in == 8 + 10


def test_vae_gan_has_a_gan_and_a_vae() -> None:
    torch.manual_seed(0)
    model = compile_spec(SPECS / "extra" / "vae_gan.sgm")
    assert set(model.groups) == {"eta", "theta", "phi"}
    names = " ".join(t.formula for t in model.objective.terms)
    assert "KL" in names
    batch = batch_for(model.graph)
    torch.manual_seed(1)
    before = model.losses(batch)
    with torch.no_grad():  # change only D: the decoder's loss changes (it plays against D) ...
        for p in model.parameters_of("phi"):
            p.add_(0.05 * torch.randn_like(p))
    torch.manual_seed(1)
    after = model.losses(batch)
    assert not torch.allclose(before["theta"], after["theta"]), "theta's loss involves D"
    torch.testing.assert_close(before["eta"], after["eta"])  # ... the encoder's does not
    # and the decoder's loss has the reconstruction: it changes with the data
    torch.manual_seed(1)
    other = model.losses({"x": batch["x"].flip(0).roll(1, 1)})
    assert not torch.allclose(after["eta"], other["eta"])


# -- what the rule cannot compile: clear errors with positions --------------------------------------
def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_spec(text)
    return info.value


def position(err: SpecError) -> tuple[int, int]:
    span = err.span
    assert span is not None, str(err)
    return span.line, span.column


def test_importance_samples_without_a_density_is_an_error() -> None:
    text = (SPECS / "ae.sgm").read_text() + "\noptions {\n  importance_samples = 4\n}\n"
    err = error_of(text)
    line = text.splitlines().index("  importance_samples = 4") + 1
    assert position(err)[0] == line, str(err)
    assert "importance" in str(err)


def test_red_edge_on_a_node_with_one_branch_is_an_error() -> None:
    text = (
        "model m\n"
        "data      x : real[4] in [0, 1]\n"
        "latent    z : real[2]\n"
        "indicator y\n"
        "x ==> z : E_eta = mlp(8)\n"
        "z => x  : G_theta = mlp(8) -> sigmoid\n"
        "z -> y  : D_phi = mlp(8) adversarial\n"
    )
    err = error_of(text)
    assert position(err)[0] == 7, str(err)
    assert re.search(r"branch|generated|real", str(err)), str(err)


@pytest.mark.parametrize("name", ["ali", "vae_gan", "cvae"])
def test_extra_losses_match_hand_written_references(name: str) -> None:
    """ALI, VAE-GAN and the conditional VAE compile to their textbook losses (values and gradients)."""
    from reference.catalog import EXTRA_REFERENCES
    from reference.compare import assert_same_losses_and_gradients

    torch.manual_seed(0)
    model = compile_spec(SPECS / "extra" / f"{name}.sgm")
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = EXTRA_REFERENCES[name](model, batch)
    assert_same_losses_and_gradients(model, got, expected, name)
