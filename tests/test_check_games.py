"""The checker on tied networks, several indicators and unused options and settings (issue 10)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SPECS

from schemagm.errors import SpecError
from schemagm.graph.build import parse

CYCLE = """model c
data      x_a : real[2]
data      x_b : real[2]
indicator u
indicator v
x_a, u ==> x_b : G_theta = mlp(8)
x_b, v ==> x_a : F_theta = mlp(8)
x_b -> u       : D_phi = mlp(8) adversarial
x_a -> v       : E_psi = mlp(8) adversarial
x_b, u => x_a  : F_theta = mlp(8) weight=10
x_a, v => x_b  : G_theta = mlp(8) weight=10
"""


def errors(text: str) -> list[tuple[int, int, str]]:
    try:
        parse(text)
    except SpecError as err:
        return [(d.span.line, d.span.column, d.message) for d in err.diagnostics if d.span is not None]
    return []


def test_the_cycle_checks() -> None:
    graph = parse(CYCLE)
    assert graph.warnings == []
    assert [e.label for e in graph.edges if e.group == "theta"] == ["G", "F", "F", "G"]


@pytest.mark.parametrize(
    ("line", "replacement", "where", "message"),
    [
        (
            "x_b, u => x_a  : F_theta = mlp(8) weight=10",
            "x_b, u => x_a  : F_theta = mlp(16) weight=10",
            (10, 28),
            "F_theta is one network on several edges (line 7 and line 10), but the edges write "
            "different networks ('mlp(8)' and 'mlp(16)')",
        ),
        (
            "x_b, u => x_a  : F_theta = mlp(8) weight=10",
            "x_b, u => x_a  : F_theta = mlp(8) -> sigmoid weight=10",
            (10, 35),
            "F_theta is one network on several edges (line 7 and line 10), but its output heads differ "
            "('none' and 'sigmoid')",
        ),
        (
            "x_b, u => x_a  : F_theta = mlp(8) weight=10",
            "x_b, u -> x_a  : F_theta = mlp(8) normal weight=10",
            (10, 8),
            "F_theta is one network on several edges (line 7 and line 10), but one edge is hollow "
            "(deterministic) and the other filled (stochastic)",
        ),
        (
            "x_b, u => x_a  : F_theta = mlp(8) weight=10",
            "x_b, x_a, u => x_a  : F_theta = mlp(8)",
            (10, 1),
            "F_theta is one network on several edges (line 7 and line 10), but its inputs differ: [2] "
            "on the first edge, [2] + [2] here",
        ),
        (
            "x_a -> v       : E_psi = mlp(8) adversarial",
            "x_a -> v       : D_phi = mlp(8) adversarial",
            (9, 18),
            "D_phi is one network on several edges (line 8 and line 9), but a discriminator belongs to "
            "one red edge (one game)",
        ),
        (
            "x_a -> v       : E_psi = mlp(8) adversarial",
            "x_a -> v       : E_phi = mlp(8) adversarial",
            (9, 18),
            "the group 'phi' owns red edges into 'u' (line 8) and 'v': each indicator's game has its "
            "own adversary group",
        ),
        (
            "x_a -> v       : E_psi = mlp(8) adversarial",
            "x_a --> v      : perfect adversarial",
            (9, 5),
            "a dashed red edge re-weights the generated branch; with several indicators only solid red "
            "edges (one game per indicator) are supported",
        ),
    ],
)
def test_positioned_errors(line: str, replacement: str, where: tuple[int, int], message: str) -> None:
    text = CYCLE.replace(line, replacement)
    assert text != CYCLE
    got = errors(text)
    assert (where[0], where[1], message) in got, got


def test_the_output_of_a_tied_network_must_agree() -> None:
    text = CYCLE.replace("data      x_a : real[2]", "data      x_a : real[3]").replace(
        "x_a, v => x_b  : G_theta = mlp(8) weight=10\n", ""
    )
    got = errors(text.replace("x_b, u => x_a  : F_theta", "x_b, u => x_a  : G_theta"))
    assert any("G_theta is one network on several edges" in m and "its inputs differ" in m for _, _, m in got), got


def test_a_tie_names_the_heads_the_targets_imply() -> None:
    """Two filled edges of one network with no written head: each target's kind implies one
    (bernoulli for a bernoulli latent, normal for real data), and the error names those."""
    text = """model t
data   x : real[4]
data   w : real[4]
latent b : bernoulli[4]
x --> b : G_theta = mlp(1) no_reparam
x -> w  : G_theta = mlp(1)
"""
    got = errors(text)
    assert (
        6,
        21,  # where the head would be written
        "G_theta is one network on several edges (line 5 and line 6), but its output heads differ "
        "('bernoulli' and 'normal')",
    ) in [(line, col, m) for line, col, m in got], got


def test_branches_of_different_indicators_are_reported_apart() -> None:
    """Two dashed producers of x_b in the branch u = 0: the message names u, not 'y'."""
    text = CYCLE + "x_a, u ==> x_b : H_theta = mlp(8)\n"
    got = errors(text)
    assert (12, 8, "'x_b' has two dashed producers for branch u = 0 (line 6 and line 12)") in got, got


def test_data_given_an_indicator_needs_one_indicator() -> None:
    text = CYCLE.replace("data      x_b : real[2]", "data      x_b : real[2] given u")
    got = errors(text)
    assert any("supported only in a model with one indicator" in m for _, _, m in got), got


# -- warnings: options and settings the model does not use ------------------------------------------------
GAN2D = """model g
data      x : real[2]
latent    z : normal[4]
indicator y
z, y ==> x : G_theta = mlp(8)
x -> y     : D_phi   = mlp(8) adversarial
"""


def warnings_of(text: str) -> list[tuple[int, int, str]]:
    return [(d.span.line, d.span.column, d.message) for d in parse(text).warnings if d.span is not None]


def test_unused_options_are_warnings_with_their_position() -> None:
    text = GAN2D.replace("adversarial\n", "adversarial form=hinge\n") + (
        "options {\n  gradient_penalty = 5\n  beta = 2\n  mi_weight = 0.5\n  adversarial = "
        "minimax\n  temperature = 0.3\n}\n"
    )
    got = warnings_of(text)
    assert [(line, col) for line, col, _ in got] == [(8, 3), (9, 3), (10, 3), (11, 3), (12, 3)]
    assert got[0][2].startswith(
        "the option 'gradient_penalty' is not used: the gradient penalty belongs to the wasserstein form"
    )
    assert got[1][2].startswith("the option 'beta' is not used")
    assert got[2][2].startswith("the option 'mi_weight' is not used")
    assert (
        got[3][2] == "the option 'adversarial' is not used: every red edge with a discriminator writes its own `form=`"
    )
    assert got[4][2] == "the option 'temperature' is not used: the model has no relaxed head"


def test_used_options_give_no_warning() -> None:
    assert warnings_of(GAN2D + "options {\n  adversarial = wasserstein\n  gradient_penalty = 5\n}\n") == []
    assert (
        warnings_of(
            GAN2D.replace("adversarial\n", "adversarial form=wasserstein\n") + "options {\n  gradient_penalty = 5\n}\n"
        )
        == []
    )
    for path in sorted(SPECS.glob("*.sgm")) + sorted((SPECS / "extra").glob("*.sgm")):
        assert parse(path.read_text()).warnings == [], path.name


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (
            ("mlp(8)\nx -> y", "mlp(8) distance=l1\nx -> y"),
            (5, 31),
            "the setting 'distance' is not used: `distance=` is the reconstruction distance of a "
            "hollow solid edge (=>); this edge has no reconstruction term",
        ),
        (
            ("mlp(8)\nx -> y", "mlp(8) form=hinge\nx -> y"),
            (5, 31),
            "the setting 'form' is not used: `form=` is the adversarial form of a red edge with a "
            "discriminator network; this edge plays no such game",
        ),
        (
            ("mlp(8)\nx -> y", "mlp(8) weight=2\nx -> y"),
            (5, 31),
            "the setting 'weight' is not used: a dashed edge's factor is paired with its p-side (a KL "
            "term), which `weight=` does not scale",
        ),
    ],
)
def test_unused_settings_are_warnings(edit: tuple[str, str], where: tuple[int, int], message: str) -> None:
    text = GAN2D.replace(*edit)
    assert text != GAN2D
    assert warnings_of(text) == [(*where, message)]


def test_distance_on_a_stochastic_edge_is_a_warning() -> None:
    text = (SPECS / "vae.sgm").read_text().replace("mlp(256) bernoulli", "mlp(256) bernoulli distance=l1")
    (w,) = parse(text).warnings
    assert w.message.startswith("the setting 'distance' is not used") and w.severity == "warning"


def test_schemagm_check_prints_warnings_and_exits_0(tmp_path) -> None:
    spec = tmp_path / "g.sgm"
    spec.write_text(GAN2D + "options {\n  beta = 2\n}\n")
    out = subprocess.run(
        [sys.executable, "-m", "schemagm", "check", str(spec)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert f"{spec}: ok" in out.stdout
    assert f"{spec}:8:3: warning: the option 'beta' is not used" in out.stderr
    assert "  8 |   beta = 2" in out.stderr and "Traceback" not in out.stderr


# -- transformations, equivalence, rendering, fmt keep ties, games and settings --------------------------
def test_cyclegan_through_the_transformations_and_back() -> None:
    from schemagm.graph.build import to_sgm
    from schemagm.render.drawing import drawing
    from schemagm.transform.equivalence import equivalent
    from schemagm.transform.nodes import swap_nodes
    from schemagm.transform.processes import swap_processes

    g = parse((SPECS / "extra" / "cyclegan.sgm").read_text())
    assert parse(to_sgm(g)) == g  # ties, two indicators and settings survive the round trip
    assert "weight=10 distance=l1" in to_sgm(g)
    swapped = swap_processes(g, check=False)
    assert swap_processes(swapped, check=False) == g
    assert [e.settings for e in swapped.edges] == [e.settings for e in g.edges]
    assert [f"{e.label}_{e.group}" for e in swapped.edges] == [f"{e.label}_{e.group}" for e in g.edges]
    mirrored = swap_nodes(g, "x_a", "x_b", check=False)
    assert swap_nodes(mirrored, "x_a", "x_b", check=False) == g
    assert equivalent(g, g) and not equivalent(g, swapped)
    d = drawing(g)
    tied = {a["tied"] for a in d["panels"][0]["edges"]} - {None}
    assert tied == {"G_theta", "F_theta"}
    assert (
        d["caption"]
        == "tied networks: G_θ on 2 edges, F_θ on 2 edges (a label drawn twice is one network, the same parameters)"
    )
    assert drawing(parse((SPECS / "gan.sgm").read_text()))["caption"] is None  # no tie, no note


# -- properties over random multi-game graphs (tests/strategies.py) --------------------------------------
from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hyp_settings  # noqa: E402
from strategies import multi_game_graphs  # noqa: E402


@hyp_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(multi_game_graphs())
def test_random_games_check_print_back_and_compile(graph) -> None:
    import torch

    from schemagm.compiler import compile as compile_graph
    from schemagm.graph.build import to_sgm
    from schemagm.graph.check import check
    from schemagm.transform.processes import swap_processes

    assert check(graph) == []
    assert parse(to_sgm(graph)) == graph
    assert swap_processes(swap_processes(graph, check=False), check=False) == graph
    model = compile_graph(graph)
    games = [p for p in model.objective.phases if p.name.startswith("adversary:")]
    assert len(games) == len(graph.nodes_by_role(graph.nodes["u0"].role))  # one phase per indicator
    batch = {v: torch.randn(8, *n.shape) for v, n in graph.nodes.items() if n.role.value == "data"}
    losses = model.losses(batch)
    assert set(losses) == set(model.groups) and all(torch.isfinite(v) for v in losses.values())
    # every cycle edge is one reconstruction term, weighted by its edge's weight
    cycles = sorted(
        1.0 if e.weight is None else e.weight
        for e in graph.edges
        if e.process.value == "generative" and e.deterministic
    )
    assert sorted(t.weight for t in model.objective.terms if t.kind == "reconstruction") == cycles


RED = """model r
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
x, y --> z : q_eta = mlp(8) normal
z, y -> x  : p_theta = mlp(8) bernoulli
"""


@pytest.mark.parametrize(
    ("edges", "where", "message"),
    [
        (
            "x --> y : mmd(1.0) adversarial\n",
            (7, 3),
            "a kernel test belongs on a solid red edge (the generated side is tested against data)",
        ),
        (
            "z --> y : D_phi = mlp(8) adversarial\n",
            (7, 3),
            "a dashed red edge re-weights the generated branch by the adversary, so 'z' must be data in the branch y=0",
        ),
        (
            "x -> y : perfect adversarial\n",
            (7, 3),
            "a perfect adversary on a solid red edge would give the generator log 0: only a dashed red edge can "
            "be perfect",
        ),
    ],
)
def test_red_edges_the_rule_cannot_play_are_check_errors(edges: str, where: tuple[int, int], message: str) -> None:
    """What the compiler's derivation refuses of a red edge, the checker reports first, at the arrow
    (`schemagm check` said ok to each of these; `compile` refused them)."""
    got = errors(RED + edges)
    assert (where[0], where[1], message) in got, got


def test_a_partially_observed_node_and_a_reweighting_adversary_are_a_check_error() -> None:
    text = RED.replace("latent    z", "data      c : categorical[3] partial\nlatent    z") + (
        "x --> c : r_eta = mlp(8) categorical\nx --> y : D_phi = mlp(8) adversarial\n"
    )
    got = errors(text)
    assert (
        9,
        3,
        "the partially observed 'c' cannot be combined with a dashed red edge with a network",
    ) in got, got
    # the same graph with a perfect (network-free) dashed adversary checks
    assert errors(text.replace("x --> y : D_phi = mlp(8) adversarial", "x --> y : perfect adversarial")) == []


def test_walkback_without_a_corruption_and_its_denoiser_is_a_check_error() -> None:
    """`walkback` runs a chain from a solid edge x~ -> x scored at a corruption x --> x~; a model
    without one is refused by `check` at the option's value (it was only the compiler's error)."""
    gan = (SPECS / "gan.sgm").read_text()
    text = gan.replace("options {\n", "options {\n  walkback = 3\n")
    line = text.splitlines().index("  walkback = 3") + 1
    got = errors(text)
    message = "walkback = 3 needs a dashed edge a --> b and a solid edge b -> a (a corruption and its denoiser)"
    assert (line, 14, message) in got, got
    dae = (SPECS / "dae.sgm").read_text()
    assert "walkback" in dae and errors(dae) == []  # the denoising autoencoder's chain


WALK_ENUM = """model wbe
data   x  : real[4] in [0, 1]
latent xn : real[4]
latent c  : categorical[3]
x --> xn   : gaussian_noise(0.5)
x --> c    : q_eta = mlp(8) categorical
xn, c -> x : p_theta = mlp(8) bernoulli
options {
  walkback = 2
}
"""

WALK_ENUM_MESSAGE = (
    "walkback = 2 runs one chain, so it cannot be summed over the values of the enumerated 'c': q_eta would "
    "get no gradient from it"
)


def test_a_walkback_chain_over_an_enumerated_node_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain runs once, at the branch's own (sampled) value of c; summed over c's values with
    weights q(c | x) that sum to one, the denoising term sent q_eta no gradient (about 1e-8) while
    its formula printed Σ_c q_η(c|x) ... . The checker refuses it at the edge that draws c, and so
    does the compiler on a graph that skipped the checker; `discrete = score` is the working form."""
    import torch

    from schemagm.compiler import compile as compile_spec
    from schemagm.graph import check as check_module

    assert (6, 3, WALK_ENUM_MESSAGE) in errors(WALK_ENUM)
    monkeypatch.setattr(check_module, "check", lambda graph, locations=None: [])
    graph = parse(WALK_ENUM.replace("  walkback = 2\n", ""))  # a graph that checks, given the option afterwards
    graph.options = graph.options.model_copy(update={"walkback": 2})
    with pytest.raises(SpecError, match="walkback = 2 runs one chain"):
        compile_spec(graph)
    monkeypatch.undo()
    # the score-function form: the chain at a sample of c, and q_eta learns from it
    torch.manual_seed(0)
    model = compile_spec(WALK_ENUM.replace("  walkback = 2\n", "  walkback = 2\n  discrete = score\n"))
    terms = model.terms({"x": (torch.rand(5, 4) > 0.5).float()})
    grads = torch.autograd.grad(terms["nll:p_theta"], list(model.networks["q_eta"].parameters()))
    assert sum(float(g.abs().sum()) for g in grads) > 1e-3


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("ae", "; E is deterministic (hollow) and has no density"),
        ("mmd_net", "; G is deterministic (hollow) and has no density"),
    ],
)
def test_importance_samples_with_nothing_to_weight_is_a_check_error(name: str, what: str) -> None:
    """A model with neither a bound to weight (a KL pair) nor a generator's adversarial loss is
    refused by `check` at the option's value (it was only the compiler's error); IWAE and IWGAN
    check (the catalog)."""
    text = (SPECS / f"{name}.sgm").read_text()
    text = (
        text.replace("options {\n", "options {\n  importance_samples = 4\n")
        if "options {" in text
        else (text + "options {\n  importance_samples = 4\n}\n")
    )
    line = text.splitlines().index("  importance_samples = 4") + 1
    message = (
        "importance_samples = 4 has nothing to weight: importance weighting needs a dashed edge with a density "
        f"into a latent node with a prior, or a red edge with a discriminator{what}"
    )
    assert (line, 24, message) in errors(text), errors(text)
    for weighted in ("iwae", "iwgan"):
        assert errors((SPECS / f"{weighted}.sgm").read_text()) == []
