"""The rule, term by term: which terms each catalog spec compiles to, which groups they update,
their formulas, the adversarial forms, the values of nodes per branch, the draws recorded, and
the clear errors for what the rule cannot compile."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from conftest import SPECS
from reference.batches import batch_for

from schemagm.compiler import compile as compile_spec
from schemagm.errors import SpecError
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph

# name -> {term: (groups, kind, phase)}
EXPECTED = {
    "ae": {"recon:G_theta": ({"theta", "eta"}, "reconstruction", "model")},
    "dae": {"nll:p_theta": ({"theta"}, "walkback", "model")},
    "vae": {"nll:p_theta": ({"theta", "eta"}, "score", "model"), "kl:q_eta": ({"eta"}, "kl", "model")},
    "beta_vae": {"nll:p_theta": ({"theta", "eta"}, "score", "model"), "kl:q_eta": ({"eta"}, "kl", "model")},
    "iwae": {"iw_bound": ({"theta", "eta"}, "iw_bound", "model")},
    "gan": {"adversary:D_phi": ({"phi"}, "adversary", "adversary"), "reversed:D_phi": ({"theta"}, "reversed", "model")},
    "iwgan": {
        "adversary:D_phi": ({"phi"}, "adversary", "adversary"),
        "reversed:D_phi": ({"theta"}, "reversed", "model"),
    },
    "infogan": {
        "nll:Q_eta": ({"eta", "theta"}, "score", "model"),
        "adversary:D_phi": ({"phi"}, "adversary", "adversary"),
        "reversed:D_phi": ({"theta"}, "reversed", "model"),
    },
    "aae": {
        "nll:p_theta": ({"theta", "eta"}, "score", "model"),
        "adversary:D_phi": ({"phi"}, "adversary", "adversary"),
        "reversed:D_phi": ({"eta"}, "reversed", "model"),
    },
    "ada": {"adversary:D_phi": ({"phi"}, "adversary", "adversary"), "reversed:D_phi": ({"theta"}, "reversed", "model")},
    "aavae": {
        "nll:p_theta": ({"theta", "eta"}, "score", "model"),
        "kl:q_eta": ({"eta"}, "kl", "model"),
        "adversary:D_phi": ({"phi"}, "adversary", "adversary"),
    },
    "wake_sleep": {"nll:p_theta": ({"theta"}, "score", "model"), "sleep:q_lambda": ({"lambda"}, "sleep", "model")},
    "mmd_net": {"mmd:x->y": ({"theta"}, "mmd", "model")},
}

DRAWS = {
    "ae": set(),
    "dae": {
        "noise:x->xn:y=1",
        "noise:x->xn:y=1:r=2",
        "noise:x->xn:y=1:r=3",
        "sample:p_theta:y=1",
        "sample:p_theta:y=1:r=2",
    },
    "vae": {"eps:q_eta:y=0"},
    "beta_vae": {"eps:q_eta:y=0"},
    "iwae": {"eps:q_eta:y=0"},
    "gan": {"prior:z:y=0"},
    "iwgan": {"prior:z:y=0"},
    "infogan": {"prior:z:y=0"},
    "aae": {"prior:z:y=1"},
    "ada": set(),
    "aavae": {"eps:q_eta:y=0", "prior:z:gen", "eps:q_eta:y=0:gen"},
    "wake_sleep": {"sample:q_lambda:y=1", "prior:h:sleep", "sample:p_theta:sleep"},
    "mmd_net": {"prior:z:y=0"},
}


def model_of(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return compile_spec(SPECS / f"{name}.sgm")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_terms_groups_kinds_and_phases(name: str) -> None:
    m = model_of(name)
    got = {t.name: (set(t.groups), t.kind, t.phase) for t in m.objective.terms}
    assert got == EXPECTED[name]
    owners = {e.group for e in m.graph.edges if e.adversarial and e.group}
    assert [p.name for p in m.objective.phases] == (["adversary", "model"] if owners else ["model"])


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_last_draws_keys(name: str) -> None:
    m = model_of(name)
    m.losses(batch_for(m.graph))
    assert set(m.last_draws) == DRAWS[name]


def test_draw_shapes_under_importance_weighting() -> None:
    m = model_of("iwae")
    m.losses(batch_for(m.graph, n=6))
    assert m.last_draws["eps:q_eta:y=0"].shape == (5, 6, 8)


def test_formulas_read_like_the_paper() -> None:
    vae = model_of("vae").objective
    assert vae.term("nll:p_theta").formula == "−𝔼_{p_data(x) q_η(z|x)} log p_θ(x|z)"
    assert vae.term("kl:q_eta").formula == "β·KL(q_η(z|x) ‖ p(z))"
    assert "\\mathbb{E}" in vae.term("nll:p_theta").latex and "\\theta" in vae.term("nll:p_theta").latex
    gan = model_of("gan").objective
    assert gan.term("reversed:D_phi").formula == "−𝔼_{p(z)} log D_φ(G_θ(z))"
    assert gan.term("adversary:D_phi").formula == "−𝔼_{p_data(x)} log D_φ(x) − 𝔼_{p(z)} log(1 − D_φ(G_θ(z)))"
    info = model_of("infogan").objective
    assert info.term("nll:Q_eta").formula == "−𝔼_{p(z)} log Q_η(z|G_θ(z))"
    aae = model_of("aae").objective
    assert aae.term("nll:p_theta").formula == "−𝔼_{p_data(x)} log p_θ(x|E_η(x))"
    assert aae.term("reversed:D_phi").formula == "−𝔼_{p_data(x)} log D_φ(E_η(x))"
    ada = model_of("ada").objective.term("reversed:D_phi").formula
    assert "log(1 − D_φ(G_θ(z)))" in ada and "p_data(z|y=1)" in ada and "p_data(z|y=0)" in ada
    ws = model_of("wake_sleep").objective.term("sleep:q_lambda").formula
    assert ws == "−𝔼_{p(h) p_θ(x|h)} log q_λ(h|x)"
    assert "MMD²" in model_of("mmd_net").objective.term("mmd:x->y").formula
    assert "Σ" in model_of("iwae").objective.term("iw_bound").formula
    text = model_of("gan").objective.text()
    assert "loss(φ)" in text and "loss(θ)" in text and "phase adversary: phi (1 step" in text


def test_mi_weight_weights_terms_scored_on_generated_samples() -> None:
    text = (SPECS / "infogan.sgm").read_text().replace("mi_weight = 1.0", "mi_weight = 0.25")
    m = compile_spec(text)
    t = m.objective.term("nll:Q_eta")
    assert t.weight == 0.25 and t.weight_name == "mi_weight" and t.formula.startswith("−0.25·")
    # a term scored on data is never weighted by mi_weight
    assert compile_spec((SPECS / "vae.sgm").read_text()).objective.term("nll:p_theta").weight == 1.0


def logits_of(m, batch, seed=0):
    torch.manual_seed(seed)
    terms = m.terms(batch)
    d = m.networks["D_phi"]
    x = batch["x"]
    z = m.last_draws["prior:z:y=0"]
    xg = torch.sigmoid(m.networks["G_theta"](z))
    return terms, d(x).reshape(-1), d(xg).reshape(-1)


@pytest.mark.parametrize(
    "form",
    ["minimax", "least_squares", "hinge", "wasserstein"],
)
def test_adversarial_forms(form: str) -> None:
    text = (SPECS / "gan.sgm").read_text().replace("adversarial = non_saturating", f"adversarial = {form}")
    torch.manual_seed(0)
    m = compile_spec(text)
    batch = batch_for(m.graph, n=8)
    terms, lr, lg = logits_of(m, batch)
    if form == "minimax":
        phi = F.softplus(-lr).mean() + F.softplus(lg).mean()
        theta = -F.softplus(lg).mean()  # E log(1 - D(G(z)))
    elif form == "least_squares":
        phi = 0.5 * ((lr - 1) ** 2).mean() + 0.5 * (lg**2).mean()
        theta = 0.5 * ((lg - 1) ** 2).mean()
    elif form == "hinge":
        phi = F.relu(1 - lr).mean() + F.relu(1 + lg).mean()
        theta = -lg.mean()
    else:
        phi = lg.mean() - lr.mean()
        theta = -lg.mean()
        assert "gradient_penalty:D_phi" in terms and float(terms["gradient_penalty:D_phi"].detach()) >= 0
        assert m.objective.term("gradient_penalty:D_phi").groups == {"phi"}
    torch.testing.assert_close(terms["adversary:D_phi"], phi)
    torch.testing.assert_close(terms["reversed:D_phi"], theta)


def test_wasserstein_gradient_penalty_matches_a_hand_computation() -> None:
    text = (
        (SPECS / "gan.sgm")
        .read_text()
        .replace("adversarial = non_saturating", "adversarial = wasserstein\n  gradient_penalty = 5.0")
    )
    torch.manual_seed(0)
    m = compile_spec(text)
    batch = batch_for(m.graph, n=8)
    torch.manual_seed(1)
    terms = m.terms(batch)
    eps = m.last_draws["gp:D_phi:y=0"].reshape(-1, 1)
    xg = torch.sigmoid(m.networks["G_theta"](m.last_draws["prior:z:y=0"])).detach()
    xh = (eps * batch["x"] + (1 - eps) * xg).requires_grad_(True)
    (g,) = torch.autograd.grad(m.networks["D_phi"](xh).sum(), xh)
    ref = 5.0 * ((g.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(terms["gradient_penalty:D_phi"], ref)


def test_discriminator_steps_set_the_adversary_phase() -> None:
    text = (SPECS / "gan.sgm").read_text().replace("adversarial = non_saturating", "discriminator_steps = 5")
    m = compile_spec(text)
    assert m.objective.phases[0].steps == 5 and m.objective.phases[1].steps == 1


def test_monte_carlo_kl_option() -> None:
    text = (SPECS / "vae.sgm").read_text() + "\noptions {\n  kl = monte_carlo\n}\n"
    torch.manual_seed(0)
    m = compile_spec(text)
    batch = batch_for(m.graph, n=8)
    torch.manual_seed(1)
    terms = m.terms(batch)
    out = m.networks["q_eta"](batch["x"])
    mean, std = out[:, :8], torch.exp(0.5 * out[:, 8:])
    z = mean + std * m.last_draws["eps:q_eta:y=0"]
    import torch.distributions as D

    ref = (D.Normal(mean, std).log_prob(z).sum(1) - D.Normal(0.0, 1.0).log_prob(z).sum(1)).mean()
    torch.testing.assert_close(terms["kl:q_eta"], ref)


# -- values per branch ---------------------------------------------------------------------------------------
def test_ali_branches_use_their_own_inference_edges() -> None:
    """y = 1: (x, E(x)) with x from the data; y = 0: (G(z), z) with z from the prior."""
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "ali.sgm")
    p = m._planner
    assert p.source("y=1", "x").kind == "data"
    assert p.source("y=1", "z").kind == "edge" and m._infos[p.source("y=1", "z").edge].edge.label == "E"
    assert p.source("y=0", "z").kind == "prior"
    assert p.source("y=0", "x").kind == "edge" and m._infos[p.source("y=0", "x").edge].edge.label == "G"
    batch = batch_for(m.graph)
    torch.manual_seed(1)
    terms = m.terms(batch)
    x = batch["x"]
    zg = m.last_draws["prior:z:y=0"]
    d = m.networks["D_phi"]
    real = d(torch.cat([x, m.networks["E_eta"](x)], 1)).reshape(-1)
    fake = d(torch.cat([torch.sigmoid(m.networks["G_theta"](zg)), zg], 1)).reshape(-1)
    torch.testing.assert_close(terms["adversary:D_phi"], F.softplus(-real).mean() + F.softplus(fake).mean())
    torch.testing.assert_close(terms["reversed:D_phi"], F.softplus(real).mean() + F.softplus(-fake).mean())
    assert m.objective.term("reversed:D_phi").groups == {"eta", "theta"}


def test_ada_source_and_target_rows_go_to_their_branches() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "ada.sgm")
    batch = batch_for(m.graph, n=10)
    y = batch["y"]
    # swapping the domain labels swaps the branches: phi's loss changes
    torch.manual_seed(1)
    a = m.losses(batch)
    torch.manual_seed(1)
    b = m.losses(dict(batch, y=1 - y))
    assert not torch.allclose(a["phi"], b["phi"])
    g, d = m.networks["G_theta"], m.networks["D_phi"]
    ls, lt = d(g(batch["z"][y == 1])).reshape(-1), d(g(batch["z"][y == 0])).reshape(-1)
    torch.testing.assert_close(b["phi"], F.softplus(-lt).mean() + F.softplus(ls).mean())


def test_vae_gan_generated_side_is_an_ancestral_sample_of_the_decoder() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "vae_gan.sgm")
    batch = batch_for(m.graph)
    torch.manual_seed(1)
    terms = m.terms(batch)
    xg = torch.sigmoid(m.networks["p_theta"](m.last_draws["prior:z:gen"]))
    lg = m.networks["D_phi"](xg).reshape(-1)
    torch.testing.assert_close(terms["reversed:D_phi"], F.softplus(-lg).mean())
    assert m.objective.term("reversed:D_phi").groups == {"theta"}


def test_cvae_label_is_data_in_every_network() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "cvae.sgm")
    batch = batch_for(m.graph, n=6)
    torch.manual_seed(1)
    terms = m.terms(batch)
    c = F.one_hot(batch["c"], 10).float()
    out = m.networks["q_eta"](torch.cat([batch["x"], c], 1))
    mean, std = out[:, :8], torch.exp(0.5 * out[:, 8:])
    z = mean + std * m.last_draws["eps:q_eta:y=0"]
    logits = m.networks["p_theta"](torch.cat([z, c], 1))
    ref = F.binary_cross_entropy_with_logits(logits, batch["x"], reduction="none").sum(1).mean()
    torch.testing.assert_close(terms["nll:p_theta"], ref)


def test_renamed_graph_built_in_python_compiles_to_the_same_terms() -> None:
    def graph(names: dict[str, str]) -> SchematicGraph:
        x, z, y = names["x"], names["z"], names["y"]
        return SchematicGraph(
            names["model"],
            [
                Node(name=x, role=Role.data, shape=(6,), range=(0.0, 1.0)),
                Node(name=z, role=Role.latent, value="normal", shape=(3,)),
                Node(name=y, role=Role.indicator),
            ],
            [
                Edge(
                    sources=(x, y),
                    target=z,
                    process=Process.inference,
                    label=names["q"],
                    group="eta",
                    network=Call(name="mlp", args=(8,)),
                    output=Call(name="normal"),
                    branch=0,
                ),
                Edge(
                    sources=(z, y),
                    target=x,
                    process=Process.generative,
                    label=names["p"],
                    group="theta",
                    network=Call(name="mlp", args=(8,)),
                    output=Call(name="bernoulli"),
                    branch=0,
                ),
                Edge(sources=(x,), target=y, process=Process.inference, adversarial=True, perfect=True),
            ],
        )

    a = graph({"model": "vae", "x": "x", "z": "z", "y": "y", "q": "q", "p": "p"})
    b = graph({"model": "anything", "x": "pixels", "z": "code", "y": "s", "q": "enc", "p": "dec"})
    ma, mb = compile_spec(a), compile_spec(b)
    assert [(t.kind, t.groups) for t in ma.objective.terms] == [(t.kind, t.groups) for t in mb.objective.terms]
    mb.load_state_dict(
        {k.replace("q_eta", "enc_eta").replace("p_theta", "dec_theta"): v for k, v in ma.state_dict().items()}
    )
    x = torch.rand(4, 6)
    torch.manual_seed(3)
    la = ma.losses({"x": x})
    torch.manual_seed(3)
    lb = mb.losses({"pixels": x})
    for g in la:
        torch.testing.assert_close(la[g], lb[g])


# -- what the rule cannot compile ------------------------------------------------------------------------------
def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_spec(text)
    return info.value


HEAD = "model m\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nindicator y\n"


def test_hollow_edge_into_a_prior_node_has_no_kl() -> None:
    from schemagm.compiler.model import CompiledModel

    g = SchematicGraph(
        "m",
        [
            Node(name="x", role=Role.data, shape=(4,), range=(0.0, 1.0)),
            Node(name="z", role=Role.latent, value="normal", shape=(2,)),
        ],
        [
            Edge(
                sources=("x",),
                target="z",
                process=Process.inference,
                deterministic=True,
                label="E",
                group="eta",
                network=Call(name="mlp", args=(8,)),
            ),
            Edge(
                sources=("z",),
                target="x",
                process=Process.generative,
                label="p",
                group="theta",
                network=Call(name="mlp", args=(8,)),
                output=Call(name="bernoulli"),
            ),
        ],
    )
    with pytest.raises(SpecError, match="deterministic \\(hollow\\).*no density"):
        CompiledModel(g)  # the checker catches this too; the compiler does not rely on it


def test_kernel_edge_whose_generated_side_has_no_parameters() -> None:
    text = (
        HEAD.replace("latent z : normal[2]\n", "latent z : normal[4]\n")
        + "z, y => x : identity\nx -> y : mmd(1.0) adversarial\n"
    )
    err = error_of(text)
    assert err.span is not None and err.span.line == 6 and "kernel" in str(err), str(err)


def test_importance_weighting_through_a_hollow_decoder_is_an_error() -> None:
    text = (
        HEAD + "x, y --> z : q_eta = mlp(8) normal\nz, y => x : G_theta = mlp(8) -> sigmoid\n"
        "x --> y : perfect adversarial\noptions {\n  importance_samples = 3\n}\n"
    )
    err = error_of(text)
    assert "hollow" in str(err) and err.span is not None and err.span.line == 6, str(err)


def test_importance_weighting_with_nothing_to_weight_points_at_the_option() -> None:
    text = (SPECS / "ae.sgm").read_text() + "\noptions {\n  importance_samples = 4\n}\n"
    err = error_of(text)
    line = text.splitlines().index("  importance_samples = 4") + 1
    assert err.span is not None and err.span.line == line and "importance" in str(err)


def test_walkback_without_a_corruption_points_at_the_option() -> None:
    text = (SPECS / "gan.sgm").read_text().replace("adversarial = non_saturating", "walkback = 3")
    err = error_of(text)
    assert err.span is not None and "walkback" in text.splitlines()[err.span.line - 1]


def test_red_edge_with_the_same_value_in_both_branches() -> None:
    text = (
        "model m\ndata x : real[4] in [0, 1]\nlatent z : real[2]\nindicator y\nx ==> z : E_eta = mlp(8)\n"
        "z => x : G_theta = mlp(8) -> sigmoid\nz -> y : D_phi = mlp(8) adversarial\n"
    )
    err = error_of(text)
    assert err.span is not None and err.span.line == 7
    assert re.search("same value in both branches", str(err))


def test_identity_whose_sizes_cannot_match() -> None:
    text = (
        HEAD + "x, y --> z : q_eta = identity normal\nz, y -> x : p_theta = mlp(8) bernoulli\n"
        "x --> y : perfect adversarial\n"
    )
    err = error_of(text)
    assert err.span is not None and err.span.line == 5 and "identity" in str(err)


def test_perfect_adversary_on_a_solid_edge() -> None:
    text = (
        "model m\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nindicator y\n"
        "z, y ==> x : G_theta = mlp(8) -> sigmoid\nx -> y : perfect adversarial\n"
    )
    err = error_of(text)
    assert err.span is not None and err.span.line == 6 and "perfect" in str(err)


CATEGORICAL_CODE = """model m
data x : real[4] in [0, 1]
latent z : normal[2]
latent c : categorical[3]
indicator y
z, c, y ==> x : G_theta = mlp(8) -> sigmoid
x -> y : D_phi = mlp(8) adversarial
x, y -> c : Q_eta = mlp(8) categorical
"""


def test_categorical_code_is_one_hot_and_scored_by_its_categorical_head() -> None:
    torch.manual_seed(0)
    m = compile_spec(CATEGORICAL_CODE)
    torch.manual_seed(1)
    terms = m.terms({"x": torch.rand(6, 4)})
    c, z = m.last_draws["prior:c:y=0"], m.last_draws["prior:z:y=0"]
    assert torch.all(c.sum(1) == 1)
    xg = torch.sigmoid(m.networks["G_theta"](torch.cat([z, c], 1)))
    ref = -(c * torch.log_softmax(m.networks["Q_eta"](xg), 1)).sum(1).mean()
    torch.testing.assert_close(terms["nll:Q_eta"], ref)  # the contribution is −𝔼 log Q
    assert m.objective.term("nll:Q_eta").formula == "−𝔼_{p(c) p(z)} log Q_η(c|G_θ(z, c))"


def test_relaxed_categorical_posterior_uses_gumbel_noise_and_categorical_kl() -> None:
    text = CATEGORICAL_CODE.replace(
        "z, c, y ==> x : G_theta = mlp(8) -> sigmoid\nx -> y : D_phi = mlp(8) adversarial\n"
        "x, y -> c : Q_eta = mlp(8) categorical\n",
        "x, y --> c : q_eta = mlp(8) relaxed_categorical(temperature=0.3)\n"
        "c, y -> x : p_theta = mlp(8) bernoulli\nx --> y : perfect adversarial\n",
    ).replace("latent z : normal[2]\n", "")
    torch.manual_seed(0)
    m = compile_spec(text)
    x = torch.rand(5, 4)
    torch.manual_seed(1)
    terms = m.terms({"x": x})
    logits = m.networks["q_eta"](x)
    g = m.last_draws["eps:q_eta:y=0"]
    c = torch.softmax((logits + g) / 0.3, 1)
    nll = F.binary_cross_entropy_with_logits(m.networks["p_theta"](c), x, reduction="none").sum(1).mean()
    import torch.distributions as D

    kl = D.kl_divergence(D.Categorical(logits=logits), D.Categorical(probs=torch.full((5, 3), 1 / 3))).mean()
    torch.testing.assert_close(terms["nll:p_theta"], nll)
    torch.testing.assert_close(terms["kl:q_eta"], kl)


def test_uniform_prior_defaults_to_the_languages_range() -> None:
    torch.manual_seed(0)
    z = compile_spec(SPECS / "mmd_net.sgm").sample(2000)["z"]
    assert float(z.min()) < -0.9 and float(z.max()) > 0.9 and float(z.abs().max()) <= 1.0


def test_convolutional_encoder_on_a_vector_is_an_error() -> None:
    text = (
        HEAD + "x, y --> z : q_eta = conv_encoder(8) normal\nz, y -> x : p_theta = mlp(8) bernoulli\n"
        "x --> y : perfect adversarial\n"
    )
    err = error_of(text)
    assert err.span is not None and err.span.line == 5 and "image" in str(err)


def test_shared_adversary_and_recognition_weights_train_in_both_phases() -> None:
    text = (SPECS / "infogan.sgm").read_text().replace("Q_eta", "Q_phi")
    torch.manual_seed(0)
    m = compile_spec(text)
    t = m.objective.term("nll:Q_phi")
    assert t.groups == {"phi", "theta"}
    assert m.objective.phases[0].groups == ("phi",)
    assert "nll:Q_phi" in m._phase_terms["adversary"] and "nll:Q_phi" in m._phase_terms["model"]


def test_sleep_phase_through_a_hollow_edge_is_an_error() -> None:
    from schemagm.compiler.model import CompiledModel

    g = SchematicGraph(
        "m",
        [
            Node(name="x", role=Role.data, shape=(4,), range=(0.0, 1.0)),
            Node(name="h", role=Role.latent, value="real", shape=(2,)),
        ],
        [
            Edge(
                sources=("x",),
                target="h",
                process=Process.inference,
                deterministic=True,
                label="q",
                group="lambda",
                network=Call(name="mlp", args=(8,)),
                reparameterize=False,
            ),
            Edge(
                sources=("h",),
                target="x",
                process=Process.generative,
                label="p",
                group="theta",
                network=Call(name="mlp", args=(8,)),
                output=Call(name="bernoulli"),
            ),
        ],
    )
    with pytest.raises(SpecError, match="no_reparam.*no"):
        CompiledModel(g)


def test_a_walkback_chain_read_at_another_context_fails_loudly() -> None:
    """The chain's rounds are planned from one branch; a term that read it elsewhere (summed over an
    enumerated node, pooled over real and generated rows) would get that branch's value silently."""
    from schemagm.compiler.ir import Opaque, walk

    torch.manual_seed(0)
    model = compile_spec(SPECS / "dae.sgm")
    batch = {"x": (torch.rand(3, 64) > 0.5).float()}
    assert torch.isfinite(model.losses(batch)["theta"])
    (chain,) = [e for t in model._exprs.values() for e in walk(t) if isinstance(e, Opaque)]
    with pytest.raises(SpecError, match="the walkback chain of p_theta, planned in y=1, was read in y=0"):
        chain.eval(model.run(batch), "y=0")
