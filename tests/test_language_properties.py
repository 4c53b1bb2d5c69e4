"""Properties of the language, over random graphs and random or mutated text.

* every graph drawn by ``strategies.graphs()`` passes the checker;
* printing and parsing again gives the same graph, and printing is a fixed point;
* parsing never raises anything but SpecError, on random text and on catalog text
  with characters and tokens deleted, duplicated or swapped -- and a syntax error
  never shows a parser-internal name.
"""

from __future__ import annotations

import re

from conftest import CATALOG, SPECS
from hypothesis import given
from hypothesis import strategies as st
from strategies import graphs

from schemagm.errors import SpecError
from schemagm.graph.build import format_text, parse, to_sgm
from schemagm.graph.check import check

TEXTS = {name: (SPECS / f"{name}.sgm").read_text() for name in CATALOG}
INTERNAL = re.compile(
    r"__ANON|\bRULE\b|\b_NL\b|\$END|\bLPAR\b|\bRPAR\b|\bLSQB\b|\bRSQB\b|\bCOLON\b|\bDOTTED_NAME\b|Token\("
)


@given(graphs())
def test_generated_graphs_pass_the_checker(graph):
    assert check(graph) == []


@given(graphs())
def test_print_parse_round_trip(graph):
    text = to_sgm(graph)
    again = parse(text)
    assert again == graph
    assert to_sgm(again) == text
    assert format_text(text) == text


def _only_spec_errors(text: str) -> None:
    try:
        parse(text, file="fuzz.sgm")
    except SpecError as err:
        rendered = str(err)
        assert rendered.startswith("fuzz.sgm")
        for d in err.diagnostics:
            assert not INTERNAL.search(d.message), d.message
            assert d.span is None or d.span.line >= 1 and d.span.column >= 1
    else:
        # a mutation that is still valid must print and parse back to the same graph
        graph = parse(text)
        assert parse(to_sgm(graph)) == graph


@given(st.text(alphabet=st.sampled_from(list("model xyz:->=[](),.#{}\"'\n\t 0123456789_-adtlni")), max_size=200))
def test_random_text_gives_only_spec_errors(text):
    _only_spec_errors(text)


@given(st.text(max_size=80))
def test_arbitrary_unicode_gives_only_spec_errors(text):
    _only_spec_errors("model m\n" + text)


TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?|-->|==>|->|=>|\S")


@st.composite
def mutated(draw):
    text = TEXTS[draw(st.sampled_from(CATALOG))]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):  # characters
            if not text:
                break
            i = draw(st.integers(0, len(text) - 1))
            op = draw(st.sampled_from(["delete", "duplicate", "swap"]))
            if op == "delete":
                text = text[:i] + text[i + 1 :]
            elif op == "duplicate":
                text = text[:i] + text[i] + text[i:]
            elif i + 1 < len(text):
                text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:  # tokens
            tokens = TOKEN.findall(text)
            if len(tokens) < 2:
                break
            i = draw(st.integers(0, len(tokens) - 2))
            op = draw(st.sampled_from(["delete", "duplicate", "swap"]))
            if op == "delete":
                del tokens[i]
            elif op == "duplicate":
                tokens.insert(i, tokens[i])
            else:
                tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
            text = "".join(tokens)
    return text


@given(mutated())
def test_mutated_catalog_text_gives_only_spec_errors(text):
    _only_spec_errors(text)


# -- arbitrary (mostly invalid) graphs built in Python -------------------------------------------
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph  # noqa: E402

_POOL = ["x", "z", "y", "h", "w"]
_CALL_NAMES = [
    "mlp",
    "linear",
    "identity",
    "embedding",
    "conv_encoder",
    "conv_decoder",
    "gaussian_noise",
    "mmd",
    "normal",
    "bernoulli",
    "categorical",
    "relaxed_categorical",
    "sigmoid",
    "tanh",
    "nope",
]
_scalars = st.one_of(
    st.integers(-3, 300), st.floats(-2, 2, allow_nan=False), st.sampled_from(["relu", "a b", "true"]), st.booleans()
)
_calls = st.builds(
    Call,
    name=st.sampled_from(_CALL_NAMES),
    args=st.lists(_scalars, max_size=3).map(tuple),
    kwargs=st.lists(
        st.tuples(st.sampled_from(["std", "activation", "dim", "temperature", "bogus"]), _scalars),
        max_size=2,
        unique_by=lambda kv: kv[0],
    ).map(tuple),
)
_nodes = st.builds(
    Node,
    name=st.sampled_from(_POOL),
    role=st.sampled_from(list(Role)),
    value=st.sampled_from(["real", "normal", "uniform", "categorical", "bernoulli"]),
    shape=st.lists(st.integers(-2, 6), max_size=4).map(tuple),
    range=st.none() | st.tuples(st.floats(-3, 3, allow_nan=False), st.floats(-3, 3, allow_nan=False)),
    given=st.none() | st.sampled_from(_POOL),
    dataset=st.none() | st.just("digits"),
)
_edges = st.builds(
    Edge,
    sources=st.lists(st.sampled_from(_POOL), min_size=0, max_size=3).map(tuple),
    target=st.sampled_from(_POOL),
    process=st.sampled_from(list(Process)),
    deterministic=st.booleans(),
    adversarial=st.booleans(),
    perfect=st.booleans(),
    label=st.none() | st.sampled_from(["G", "D", "q"]),
    group=st.none() | st.sampled_from(["theta", "phi"]),
    network=st.none() | _calls,
    output=st.none() | _calls,
    kernel=st.none() | _calls,
    branch=st.sampled_from([None, 0, 1]),
    reparameterize=st.booleans(),
)


@given(st.lists(_nodes, max_size=5), st.lists(_edges, max_size=5))
def test_check_never_raises_and_what_it_accepts_round_trips(nodes, edges):
    graph = SchematicGraph("m", nodes, edges)
    problems = check(graph)
    assert all(p.message for p in problems)
    if not problems:
        assert parse(to_sgm(graph)) == graph
