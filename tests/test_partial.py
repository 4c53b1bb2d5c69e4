"""Partially observed nodes (docs/language.md, `partial`): M2 comes out of the rule, against the
hand-written reference of tests/reference/partial.py on the same draws, values and gradients per
group; the syntax, its checks and its data form."""

from __future__ import annotations

import pytest
import torch
from reference import partial as ref
from reference.batches import digits
from reference.catalog import draw, gaussian, net
from reference.compare import assert_same_losses_and_gradients

from schemagm.errors import SpecError
from schemagm.graph.model import observed_key

M2 = (
    "model m2\n"
    "data x : real[16] in [0, 1]\n"
    "data c : categorical[4] partial\n"
    "latent z : normal[3]\n"
    "x --> c : q_eta = mlp(16) categorical weight=0.5\n"
    "x, c --> z : r_eta = mlp(16) normal\n"
    "z, c -> x : p_theta = mlp(16) bernoulli\n"
)


def compiled(text: str, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(text)


def batch(n: int = 12, observed: list[bool] | None = None) -> dict[str, torch.Tensor]:
    x = (digits(n)[:, :16] > 0.5).float()
    label = torch.arange(n) % 4
    mask = torch.tensor(observed if observed is not None else [i % 3 == 0 for i in range(n)])
    return {"x": x, "c": label, observed_key("c"): mask}


def reference(model, b: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    eps = [draw(model, f"eps:r_eta:y=1|c={k}") for k in range(4)]
    return ref.m2(
        net(model, "q_eta"),
        gaussian(model, "r_eta"),
        net(model, "p_theta"),
        b["x"],
        b["c"],
        b[observed_key("c")],
        eps,
        alpha,
    )


@pytest.mark.parametrize(
    "observed",
    [None, [True] * 12, [False] * 12],
    ids=["some rows labelled", "every row labelled", "no row labelled"],
)
def test_m2_is_the_rule_labelled_and_unlabelled_rows(observed) -> None:
    model = compiled(M2)
    b = batch(observed=observed)
    torch.manual_seed(1)
    got = model.losses(b)
    expected = reference(model, b, 0.5)
    assert_same_losses_and_gradients(model, got, expected, "m2")


def test_m2_terms_print_the_mask_and_the_supervised_weight() -> None:
    model = compiled(M2)
    names = [t.name for t in model.objective.terms]
    assert names == ["nll:p_theta", "kl:q_eta", "kl:r_eta", "supervised:q_eta"]
    kl = model.objective.term("kl:q_eta").formula
    assert "m_c·(−log p(c)) + (1 − m_c)·KL(q_η(c|x) ‖ p(c))" in kl
    nll = model.objective.term("nll:p_theta").formula
    assert "Σ_c (m_c·𝟙[c = c°] + (1 − m_c)·q_η(c|x))" in nll
    sup = model.objective.term("supervised:q_eta")
    assert sup.weight == 0.5 and sup.groups == frozenset({"eta"})
    assert sup.formula == "−0.5·𝔼_{p_data(x, c°)} log q_η(c|x)"


def test_a_batch_without_a_mask_infers_the_node_everywhere() -> None:
    model = compiled(M2)
    b = batch()
    unmasked = {k: v for k, v in b.items() if k != observed_key("c")}
    missing = {**b, observed_key("c"): torch.zeros(12, dtype=torch.bool)}
    torch.manual_seed(2)
    a = model.losses(unmasked)
    torch.manual_seed(2)
    e = model.losses(missing)
    for g in a:
        torch.testing.assert_close(a[g], e[g])


def test_the_supervised_weight_zero_drops_the_term() -> None:
    model = compiled(M2.replace("weight=0.5", "weight=0"))
    assert "supervised:q_eta" not in [t.name for t in model.objective.terms]
    b = batch()
    torch.manual_seed(1)
    got = model.losses(b)
    assert_same_losses_and_gradients(model, got, reference(model, b, 0.0), "m2, alpha 0")


def test_encode_and_reconstruct_return_every_row() -> None:
    model = compiled(M2)
    b = batch()
    assert model.encode(b).shape == (12, 3)
    assert model.reconstruct(b).shape == (12, 16)
    assert model.encode(b["x"]).shape == (12, 3)  # data alone: c inferred on every row


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (M2.replace("data c : categorical[4] partial", "data c : real[4] partial"), "only a categorical or bernoulli"),
        (M2.replace("data c : categorical[4] partial", "data c : categorical[4] partial(1.5)"), "must be in (0, 1]"),
        (M2.replace("latent z : normal[3]", "latent z : normal[3] partial"), "only a data node"),
        (M2.replace("x --> c : q_eta = mlp(16) categorical weight=0.5\n", ""), "no dashed edge infers it"),
    ],
)
def test_checks_of_a_partial_node(text: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        compiled(text)
    assert message in str(err.value)
    assert err.value.diagnostics[0].span is not None


def test_partial_prints_and_parses_back() -> None:
    from schemagm.graph.build import parse, to_sgm

    for written, fraction in (("partial", None), ("partial(0.1)", 0.1)):
        g = parse(M2.replace("partial", written))
        node = g.nodes["c"]
        assert node.partial and node.observed == fraction
        assert g.to_dict()["nodes"][1]["partial"] is True
        text = to_sgm(g)
        assert written in text
        assert parse(text) == g


SSAAE = (
    "model ssaae\n"
    "data x : real[16] in [0, 1]\n"
    "data c : categorical[4] partial\n"
    "latent z : normal[3]\n"
    "indicator y\n"
    "x, y ==> z : E_eta = mlp(16)\n"
    "x, y ==> c : C_eta = mlp(16) -> softmax weight=2\n"
    "z -> y : Dz_phi = mlp(16) adversarial\n"
    "c -> y : Dc_phi = mlp(16) adversarial\n"
    "z, c, y -> x : p_theta = mlp(16) bernoulli\n"
)


@pytest.mark.parametrize("observed", [None, [True] * 12, [False] * 12], ids=["some", "every", "no row labelled"])
def test_semi_supervised_aae_is_the_rule(observed) -> None:
    model = compiled(SSAAE)
    b = batch(observed=observed)
    torch.manual_seed(1)
    got = model.losses(b)
    expected = ref.ssaae(
        net(model, "E_eta"),
        net(model, "C_eta"),
        net(model, "Dz_phi"),
        net(model, "Dc_phi"),
        net(model, "p_theta"),
        b["x"],
        b["c"],
        b[observed_key("c")],
        draw(model, "prior:z:y=1"),
        draw(model, "prior:c:y=1"),
        2.0,
    )
    assert_same_losses_and_gradients(model, got, expected, "ssaae")


def test_semi_supervised_aae_reconstructs_labelled_rows_from_their_label() -> None:
    model = compiled(SSAAE)
    b = batch(observed=[True] * 12)
    x = model.reconstruct(b)
    dec = net(model, "p_theta")
    import torch.nn.functional as F

    expected = torch.sigmoid(dec(net(model, "E_eta")(b["x"]), F.one_hot(b["c"], 4).float()))
    torch.testing.assert_close(x, expected)


def test_infer_gives_the_label_probabilities_of_m2_and_of_the_ssaae() -> None:
    for text, key in ((M2, "q_eta"), (SSAAE, "C_eta")):
        model = compiled(text)
        b = batch()
        probs = model.infer("c", b)
        expected = torch.softmax(net(model, key)(b["x"]), -1)
        torch.testing.assert_close(probs, expected)


def test_the_bounds_infer_the_partial_node_on_every_row() -> None:
    model = compiled(M2)
    b = batch(observed=[True] * 12)
    for bound in (model.elbo, lambda t: model.iw_bound(t, 3)):
        torch.manual_seed(5)
        with_labels = bound(b)
        torch.manual_seed(5)
        without = bound({"x": b["x"]})
        torch.testing.assert_close(with_labels, without)
        assert with_labels.shape == (12,) and torch.isfinite(with_labels).all()
