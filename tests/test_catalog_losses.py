"""Every catalog spec compiles, by the one rule, to its textbook loss.

For each spec in specs/: compile it, call ``model.losses(batch)`` on a real batch, then compute the
same model's loss by the hand-written textbook formula (tests/reference/losses.py) with the
model's networks as plain callables and the very same noise (``model.last_draws``).  The losses
of every group agree to 1e-5, and so do the gradients of every group's loss with respect to
every parameter of that group.
"""

from __future__ import annotations

import pytest
import torch
from conftest import CATALOG, SPECS
from reference.batches import batch_for
from reference.catalog import REFERENCES
from reference.compare import TOL, assert_same_losses_and_gradients


def test_every_catalog_spec_has_a_reference() -> None:
    assert set(CATALOG) == set(REFERENCES), "a spec in specs/ without a hand-written reference (or the reverse)"


def compiled(name: str, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(SPECS / f"{name}.sgm")


@pytest.mark.parametrize("name", CATALOG)
def test_losses_and_gradients_match_the_textbook(name: str) -> None:
    model = compiled(name)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = REFERENCES[name](model, batch)
    assert_same_losses_and_gradients(model, got, expected, name)


@pytest.mark.parametrize("name", ["vae", "gan", "iwae", "aavae"])
def test_a_different_seed_gives_different_noise_and_still_agrees(name: str) -> None:
    """The agreement is not an accident of one draw: another seed, other draws, same agreement."""
    model = compiled(name)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    first = {g: v.detach() for g, v in model.losses(batch).items()}
    draws_first = {k: v.clone() for k, v in model.last_draws.items()}
    torch.manual_seed(2)
    second = model.losses(batch)
    assert any(not torch.equal(draws_first[k], model.last_draws[k]) for k in draws_first)
    assert any(not torch.allclose(first[g], second[g]) for g in first)
    expected = REFERENCES[name](model, batch)
    for g in model.groups:
        torch.testing.assert_close(second[g], expected[g], **TOL)


def test_reference_detects_a_wrong_weight() -> None:
    """The comparison can fail: beta-VAE's reference with beta = 1 differs from the compiled beta = 4."""
    from reference import catalog, losses

    model = compiled("beta_vae")
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    wrong = losses.vae(
        catalog.gaussian(model, "q_eta"),
        catalog.net(model, "p_theta"),
        batch["x"],
        catalog.draw(model, "eps:q_eta:y=0"),
        beta=1.0,
    )
    assert not torch.allclose(got["eta"], wrong["eta"], rtol=1e-3)
    torch.testing.assert_close(got["theta"], wrong["theta"], **TOL)


def test_iwae_with_one_sample_is_the_vae() -> None:
    from schemagm.compiler import compile as compile_spec

    text = (SPECS / "iwae.sgm").read_text().replace("importance_samples = 5", "importance_samples = 1")
    torch.manual_seed(0)
    iw1 = compile_spec(text)
    vae = compiled("vae")
    vae.load_state_dict(iw1.state_dict())
    batch = batch_for(vae.graph, n=16)
    torch.manual_seed(3)
    a = iw1.losses(batch)
    torch.manual_seed(3)
    b = vae.losses(batch)
    # the IWAE's eta loss is the whole bound; the VAE's is the same sum of its two terms
    torch.testing.assert_close(a["eta"], b["eta"], **TOL)


def test_the_gradient_comparison_can_fail() -> None:
    """A reference with the right value but a wrong gradient (G's samples detached) is caught."""
    import torch.nn.functional as F
    from reference import catalog

    model = compiled("gan")
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = catalog.gan(model, batch)
    G, D = catalog.sigmoid_of(catalog.net(model, "G_theta")), catalog.net(model, "D_phi")
    z = catalog.draw(model, "prior:z:y=0")
    wrong = dict(expected, theta=F.softplus(-D(G(z).detach()).reshape(-1)).mean())
    torch.testing.assert_close(wrong["theta"], got["theta"], **TOL)  # the same value ...
    with pytest.raises(AssertionError):  # ... but no gradient for theta
        assert_same_losses_and_gradients(model, got, wrong, "gan")


@pytest.mark.parametrize("form", ["minimax", "non_saturating", "least_squares", "hinge", "wasserstein"])
def test_every_adversarial_form_matches_its_textbook_loss(form: str) -> None:
    from reference import catalog, losses

    from schemagm.compiler import compile as compile_spec

    text = (
        (SPECS / "gan.sgm")
        .read_text()
        .replace("adversarial = non_saturating", f"adversarial = {form}\n  gradient_penalty = 5.0")
    )
    torch.manual_seed(0)
    model = compile_spec(text)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    G, D = catalog.sigmoid_of(catalog.net(model, "G_theta")), catalog.net(model, "D_phi")
    z = catalog.draw(model, "prior:z:y=0")
    if form == "non_saturating":
        expected = losses.gan(G, D, batch["x"], z)
    else:
        eps = catalog.draw(model, "gp:D_phi:y=0") if form == "wasserstein" else None
        expected = losses.gan_form(G, D, batch["x"], z, form, gp_weight=5.0, gp_eps=eps)
    assert_same_losses_and_gradients(model, got, expected, form)


def test_monte_carlo_kl_matches_the_estimate_at_the_sample() -> None:
    from reference import catalog, losses

    from schemagm.compiler import compile as compile_spec

    text = (SPECS / "beta_vae.sgm").read_text().replace("beta = 4.0", "beta = 4.0\n  kl = monte_carlo")
    torch.manual_seed(0)
    model = compile_spec(text)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = losses.vae_monte_carlo_kl(
        catalog.gaussian(model, "q_eta"),
        catalog.net(model, "p_theta"),
        batch["x"],
        catalog.draw(model, "eps:q_eta:y=0"),
        beta=4.0,
    )
    assert_same_losses_and_gradients(model, got, expected, "beta_vae with kl = monte_carlo")
