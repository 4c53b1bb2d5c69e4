"""Print one standalone PyTorch script from a compiled model: its networks, the sampling and the
loss of every group read off the objective IR (:mod:`.lower`), the training loop with one optimiser
per group and the phases in the compiler's order, data loading, checkpoints and a command line."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

from ..compiler.terms import greek
from ..errors import SpecError
from ..graph.model import Process
from .data_source import data_source
from .flow_lower import FLOW_CLASSES, FlowLowering, FlowView, flow_network_class, flow_refusal
from .helpers import HELPERS, ORDER
from .lower import Lowering, ident
from .modules import EXTRA_CLASSES, head_class, network_class
from .partial_lower import inferred_functions
from .points import LOAD_POINTS, points_buffers, points_functions

__all__ = ["eject_script", "loss_source", "refuse"]

WIDTH = 88

NOISE = '''
class Noise:
    """The random draws of one call, by key.  A draw is replayed from ``given`` (the
    draws of another implementation: a test), else made from a stream seeded by the
    call's seed and the draw's structural id (so a seed gives schemagm's draws)."""

    def __init__(self, given=None):
        self.drawn = dict(given or {})
        self.seed = None

    def base(self, sid, kind, shape):
        """A standard normal or uniform draw for the structural id ``sid``."""
        if self.seed is None:
            self.seed = int(torch.randint(0, 2**62, (1,)).item())
        key = zlib.crc32(sid.encode()) * 1_000_003
        generator = torch.Generator().manual_seed((self.seed + key) % (2**63 - 1))
        if kind == "normal":
            return torch.randn(tuple(shape), generator=generator)
        return torch.rand(tuple(shape), generator=generator)

    def take(self, key, fresh):
        """The draw ``key``: the given one, else ``fresh()`` (kept for a second use)."""
        if key not in self.drawn:
            self.drawn[key] = fresh()
        return self.drawn[key]
'''


def _ident(phase: str) -> str:
    """A phase's name as a Python name: ``adversary:u`` (one game of several) is ``adversary_u``."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in phase)


def refuse(model: Any) -> None:
    """A SpecError where the model has a part the emitter cannot print yet."""
    g = model.graph
    if hasattr(model, "_edges"):  # a flow graph
        why = flow_refusal(model)
        if why is not None:
            raise SpecError(
                f"eject cannot print '{g.name}' yet: {why[0]}",
                span=why[1].span if why[1] is not None else None,
                source=g.source,
                file=g.file,
                hint="eject prints flow graphs of zuko flows, dequantizations, normal priors and registry networks",
            )
        return
    needs = ("_exprs", "_planner", "_infos", "_phase_terms", "_group_terms", "_coef")
    if not all(hasattr(model, a) for a in needs) or any(t.name not in model._exprs for t in model.objective.terms):
        raise SpecError(
            f"eject cannot print '{g.name}': its terms are not expression trees",
            source=g.source,
            file=g.file,
            hint="eject prints every spec whose terms are expression trees of the objective IR",
        )


def _view(model: Any) -> Any:
    """The model as the printer reads it (a flow graph through :class:`FlowView`)."""
    return FlowView(model) if hasattr(model, "_edges") and not isinstance(model, FlowView) else model


def _edge_of(e: Any) -> Any:
    """The first edge a tree names (where an error about the term points)."""
    from ..compiler.ir import walk

    for node in walk(e):
        for attr in ("edge", "q", "red"):
            info = getattr(node, attr, None)
            if info is not None and hasattr(info, "edge"):
                return info.edge
    return None


def _located(model: Any, err: SpecError, what: str, edge: Any) -> SpecError:
    """``err`` at ``edge`` (where it has no position of its own), saying what eject was printing."""
    g = model.graph
    if err.span is not None:
        return err if err.source is not None else err.with_source(g.source, g.file)
    return SpecError(
        f"eject cannot print {what} of '{g.name}': {err.message}",
        span=edge.span if edge is not None else None,
        hint=err.diagnostics[0].hint,
        source=g.source,
        file=g.file,
    )


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - len(indent) - 2, initial_indent="", subsequent_indent="  ") or [""]


def _scaled(coef: float, src: str) -> str:
    body = ast.parse(src, mode="eval").body
    if coef == 1.0:
        out: ast.expr = body
    elif coef == -1.0:
        out = ast.UnaryOp(ast.USub(), body)
    else:
        out = ast.BinOp(ast.Constant(coef), ast.Mult(), body)
    return ast.unparse(ast.fix_missing_locations(out))


def _terms_function(model: Any, name: str, doc: str, term_names: list[str], helpers: set[str]) -> str:
    low = FlowLowering(model, helpers) if isinstance(model, FlowView) else Lowering(model, helpers)
    out = [f"def {name}(nets, batch, noise):", f'    """{doc}"""']
    returned = []
    for t in model.objective.terms:
        if t.name not in term_names:
            continue
        start = len(low.lines)
        low.chain = None
        if t.kind == "walkback":
            ei = next(i for i in model._infos if t.name.split(":")[1] == i.name)
            low.chain = (ei, model.graph.options.walkback)
        try:
            src = low.expr(model._exprs[t.name])
        except SpecError as err:
            raise _located(model, err, f"the term {t.name}", _edge_of(model._exprs[t.name])) from None
        var = low.fresh(t.name)
        for line in low.lines[start:]:
            out.append("    " + line)
        out.append("")
        groups = ", ".join(greek(g).u for g in sorted(t.groups))
        for c in _comment(f"{t.name} [{groups}]: {t.formula}", "    "):
            out.append(f"    # {c}")
        out.append(f"    {var} = {_scaled(model._coef[t.name], src)}")
        returned.append((t.name, var))
        del low.lines[:]
    out.append("    return {" + ", ".join(f"{n!r}: {v}" for n, v in returned) + "}")
    return "\n".join(out) + "\n"


def _network_doc(model: Any, key: str) -> str:
    ei = next(i for i in model._infos if i.net_key == key)
    e = ei.edge
    if getattr(ei, "kind", None) == "flow":
        return f"{ei.sym.u}: {', '.join(ei.inputs)} <-> {e.target}, {e.network} (zuko)."
    if getattr(ei, "kind", None) == "dequantize":
        what = f"{e.network} {e.output}" if e.output is not None else str(e.network)
        return f"{ei.sym.u}: {ei.inputs[0]} --> {e.target}, {what}."
    arrow = f"{', '.join(ei.inputs)} {'-->' if e.process is Process.inference else '->'} {e.target}"
    what = str(e.network) if e.network is not None else "mlp()"
    if e.adversarial:
        tail = "outputs the logit of D"
    elif ei.head is not None:
        tail = {
            "normal": "outputs the mean, then log σ²"
            if ei.head.std is None
            else f"outputs the mean (std {ei.head.std})",
        }.get(ei.head.kind, f"outputs the logits of a {ei.head.kind} head")
    else:
        tail = f"then {ei.activation}" if ei.activation else "outputs the value itself"
    return f"{ei.sym.u}: {arrow}, {what}; {tail}."


def loss_source(model: Any) -> tuple[str, set[str]]:
    """The terms functions (one per phase) and ``losses``; the helper names they use."""
    refuse(model)
    model = _view(model)
    helpers: set[str] = set()
    phases = list(model.objective.phases)
    fns = []
    single = len(phases) == 1
    for ph in phases:
        groups = ", ".join(greek(g).u for g in ph.groups)
        name = "terms" if single else f"{_ident(ph.name)}_terms"
        doc = f"The terms of the {ph.name} phase (groups {groups}), as they enter the loss."
        fns.append(_terms_function(model, name, doc, model._phase_terms[ph.name], helpers))
    if not single:
        calls = ", ".join(f"**{_ident(ph.name)}_terms(nets, batch, noise)" for ph in phases)
        fns.append(
            "def terms(nets, batch, noise):\n"
            '    """Every term\'s contribution on one batch (one draw of the noise for all)."""\n'
            f"    return {{{calls}}}\n"
        )
    entries = []
    for g in model.groups:
        names = model._group_terms[g]
        entries.append(f"{g!r}: " + (" + ".join(f"t[{n!r}]" for n in names) if names else "torch.zeros(())"))
    call = "    t = terms(nets, batch, noise)\n" if entries else ""  # no group: nothing to train (a kernel density)
    fns.append(
        "def losses(nets, batch, noise):\n"
        '    """Every group\'s loss: the sum of the terms that update it."""\n'
        f"{call}"
        "    return {" + ", ".join(entries) + "}\n"
    )
    return "\n\n".join(fns), helpers


def _helpers_source(helpers: set[str]) -> str:
    return "\n".join(textwrap.dedent(HELPERS[h]).strip() + "\n\n" for h in ORDER if h in helpers)


def _networks(model: Any) -> tuple[str, list[str]]:
    extra: set[str] = set()
    classes = []
    keys = list(model.networks.keys())
    for key in keys:
        ei = next(i for i in model._infos if i.net_key == key)
        try:
            doc = _network_doc(model, key)
            flow = flow_network_class(ident(key), model.networks[key], ei, doc, extra) if hasattr(ei, "kind") else None
            if getattr(ei, "trunk", None) is not None:  # head(D_phi): its own layers on D_phi's trunk
                flow = head_class(ident(key), model.networks[key], doc, extra, ei.trunk)
            classes.append(flow or network_class(ident(key), model.networks[key], doc, extra))
        except SpecError as err:
            edge = next(i.edge for i in model._infos if i.net_key == key)
            raise _located(model, err, f"the network {key}", edge) from None
    buffers = [name for name, _ in model.named_buffers() if name.startswith("score_baseline")]
    shares = {i.net_key: i.trunk[0] for i in model._infos if getattr(i, "trunk", None) is not None}
    init = [
        f"        self.{k} = {k}({'self.' + shares[k] if k in shares else ''})"
        if k.isidentifier()
        else f"        self.add_module({k!r}, {ident(k)}())"
        for k in keys
    ]
    init += [f"        self.register_buffer({b!r}, torch.zeros(2))  # NVIL baseline: (b, set)" for b in buffers]
    points = points_buffers(model)
    container = (
        "class Networks(nn.Module):\n"
        '    """Every network, in the compiler\'s order (a seed gives schemagm\'s weights)."""\n\n'
        "    def __init__(self):\n"
        "        super().__init__()\n" + "\n".join(init + points) + "\n"
    )
    if points:
        container += "\n" + textwrap.dedent(LOAD_POINTS).strip("\n").replace("\n", "\n    ").join(["    ", "\n"])
    known = {**EXTRA_CLASSES, **FLOW_CLASSES}
    parts = [textwrap.dedent(known[c]).strip() + "\n" for c in known if c in extra]
    return "\n\n".join([*parts, *classes, container]), keys


def _groups(model: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in model.groups:
        keys: list[str] = []
        for ei in model._infos:
            if ei.edge.group == g and ei.net_key is not None and ei.net_key not in keys:
                keys.append(ei.net_key)
        if keys:
            out[g] = keys
    return out


def _train_step(model: Any, groups: dict[str, list[str]]) -> str:
    phases = list(model.objective.phases)
    lines = [
        "def train_step(nets, optimizers, batches):",
        '    """One step: every phase in the compiler\'s order, each on a fresh batch."""',
    ]
    for ph in phases:
        fn = "terms" if len(phases) == 1 else f"{_ident(ph.name)}_terms"
        trained = [g for g in ph.groups if g in groups]
        indent = "    "
        if ph.steps > 1:
            lines.append(f"    for _ in range({ph.steps}):  # {ph.name} steps per model step")
            indent = "        "
        lines.append(f"{indent}loss = sum({fn}(nets, next(batches), Noise()).values())")
        lines.append(f"{indent}update(optimizers, loss, {trained!r})")
    return "\n".join(lines) + "\n"


UPDATE = '''
def update(optimizers, loss, groups):
    """One backward pass; only the optimisers of the phase's groups step."""
    for optimizer in optimizers.values():
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for group in groups:
        optimizers[group].step()
'''


def _main(model: Any, default_data: str, groups: dict[str, list[str]], report: str = "") -> str:
    names = ", ".join(groups)
    has_terms = bool(model.objective.terms)
    points = bool(getattr(model, "_support_of", None))
    if has_terms:
        scores = (
            "    noise = Noise()\n"
            '    result = {"objective": float(sum(terms(nets, batch, noise).values()).detach())}\n'
            "    replay = losses(nets, batch, Noise(noise.drawn))\n"
            '    result.update({f"L_{g}": float(v.detach()) for g, v in replay.items()})\n'
        )
    else:
        scores = "    result = {}\n"
    if points:  # the model's own measure: the exact test log-likelihood
        scores += (
            "    rows = len(next(iter(batch.values())))\n"
            "    with torch.no_grad():  # 256 rows at a time: each row meets every point\n"
            "        parts = [\n"
            "            log_likelihood(nets, {k: v[i : i + 256] for k, v in batch.items()}, Noise())\n"
            "            for i in range(0, rows, 256)\n"
            "        ]\n"
            '    result["log_likelihood"] = float(torch.cat(parts).mean())\n'
        )
    doc = (
        "Every group's loss and the whole objective on a batch, with seeded noise."
        if has_terms
        else "The mean log-likelihood of the rows of a batch."
    )
    fit = (
        "    if step == 0:  # the empirical latent's points: memorised before any step\n"
        '        fit(nets, data["train"])\n'
        if points
        else ""
    )
    loop = (
        "    while batches.epoch < args.epochs:\n        train_step(nets, optimizers, batches)\n        step += 1\n"
        if model.objective.phases
        else ""
    )
    return f'''
def parameters(nets, group):
    """The parameters of one group, each once."""
    seen = {{}}
    for key in GROUPS[group]:
        for p in getattr(nets, key).parameters():
            seen[id(p)] = p
    return list(seen.values())


def noise_seed(seed):
    """The seed of the training noise (schemagm train's, set after the networks)."""
    return int(np.random.SeedSequence([seed, 0, 7]).generate_state(1, dtype=np.uint64)[0] >> 1)


def evaluate(nets, batch, seed):
    """{doc}"""
    nets.eval()
    torch.manual_seed(seed)
{scores}{report}    nets.train()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training rows")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate, every group")
    parser.add_argument("--seed", type=int, default=0, help="weights, noise and data order")
    parser.add_argument("--data", default=None, help="{default_data} (default), or an .npz or .csv file")
    parser.add_argument("--out", type=Path, default=Path("run"), help="folder for checkpoints")
    parser.add_argument("--resume", type=Path, default=None, help="a checkpoint to continue from")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    nets = Networks()
    optimizers = {{
        g: torch.optim.Adam(parameters(nets, g), lr=args.lr, betas=(0.9, 0.999))
        for g in GROUPS{f"  # {names}" if names else ""}
    }}
    data = load_data(args.data)
    torch.manual_seed(noise_seed(args.seed))
    batches = Batches(data["train"], args.batch_size, args.seed)
    step = 0
    if args.resume is not None:
        state = torch.load(args.resume, weights_only=True)
        nets.load_state_dict(state["networks"])
        for g, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][g])
        step, batches.epoch, batches.index = state["step"], state["epoch"], state["index"]
        torch.set_rng_state(state["rng"])
{fit}{loop}    args.out.mkdir(parents=True, exist_ok=True)
    state = {{
        "networks": nets.state_dict(),
        "optimizers": {{g: o.state_dict() for g, o in optimizers.items()}},
        "step": step,
        "epoch": batches.epoch,
        "index": batches.index,
        "rng": torch.get_rng_state(),
    }}
    torch.save(state, args.out / "last.pt")
    result = evaluate(nets, data["test"], args.seed)
    (args.out / "test.json").write_text(json.dumps(result, indent=2))
    shown = "  ".join(f"{{k}}={{v:.4f}}" for k, v in result.items())
    print(f"step {{step}}, epoch {{batches.epoch}}: test {{shown}}")


if __name__ == "__main__":
    main()
'''


def eject_script(model: Any, spec_name: str) -> str:
    """The whole script, formatted (ruff's default style where ruff is installed)."""
    body, helpers = loss_source(model)
    model = _view(model)
    g = model.graph
    nets, _ = _networks(model)
    if any(getattr(i, "trunk", None) is not None for i in model._infos):
        helpers.add("trunk")  # a head's class runs on its shared trunk
    groups = _groups(model)
    data, default_data = data_source(g)
    inferred, report = inferred_functions(model, helpers)
    points = points_functions(model, helpers)
    title = f"{g.name}: {g.title}" if g.title else g.name
    head = [f'"""{title}, as plain PyTorch.', ""]
    if len(head[0]) > WIDTH:  # a long title: the name, then the title wrapped
        head = [f'"""{g.name}, as plain PyTorch.', "", *textwrap.wrap(g.title, WIDTH), ""]
    head.append(f"Ejected by `schemagm eject {spec_name}` from the objective schemagm derived from")
    if model.groups:
        head.append("its graph; it does not import schemagm.  Each group's loss:")
        head.append("")
        for gr in model.groups:
            loss = f"loss({greek(gr).u}) = {model.objective.loss_formula(gr)}"
            head += textwrap.wrap(loss, WIDTH, initial_indent="    ", subsequent_indent="        ")
        head.append("")
        phases = ", ".join(f"{p.name} ({', '.join(p.groups)}) x{p.steps}" for p in model.objective.phases)
        head += textwrap.wrap(f"Phases, in order: {phases}.", WIDTH)
    else:  # a kernel density: no parameters, no loss
        head.append("its graph; it does not import schemagm.  It has no parameters and no loss: fit()")
        head.append("memorises the training points, and its measure is the exact log-likelihood")
        head.append("")
        head.append(f"    log p(x) = {model.log_likelihood_sym().u}")
    head.append("")
    head.append("Run: python model.py --epochs 2 [--data FILE.npz] [--out DIR]")
    if model.groups:
        head.append("Hook: losses(nets, batch, Noise(draws)) gives every group's loss on the given draws.")
    else:
        head.append("Hook: log_likelihood(nets, batch, Noise()) gives log p(x) per row.")
    head.append('"""')
    code = "\n".join(
        [
            textwrap.dedent(NOISE).strip() + "\n",
            _helpers_source(helpers),
            nets,
            "",
            body,
            "",
            *([inferred] if inferred else []),
            *([points] if points else []),
            *([_train_step(model, groups), textwrap.dedent(UPDATE).strip() + "\n"] if model.objective.phases else []),
            data,
            _main(model, default_data, groups, report),
        ]
    )
    imports, consts = _imports(code, helpers, ("import argparse", "import json", "from pathlib import Path"))
    consts.append("GROUPS = {" + ", ".join(f"{k!r}: {v!r}" for k, v in groups.items()) + "}")
    text = "\n".join(["\n".join(head), "\n".join(imports), "", "\n".join(consts), "", code])
    return format_source(valid_python(text))


def valid_python(text: str) -> str:
    """``text`` where it parses as Python (parsed only, never run); else an error, so that a script
    the emitter got wrong is never written."""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        raise SpecError(
            f"internal error: the ejected script is not valid Python at its line {exc.lineno} ({exc.msg}): {line[:80]}",
            hint="nothing was written; please report the spec",
        ) from None
    return text


def format_source(text: str) -> str:
    """``ruff format`` of the text where ruff is installed (the text is valid Python either way)."""
    import shutil
    import subprocess

    ruff = shutil.which("ruff")
    if ruff is None:
        try:
            from ruff.__main__ import find_ruff_bin  # type: ignore[import-not-found]

            ruff = str(find_ruff_bin())
        except Exception:  # noqa: BLE001 - no ruff: the text as printed
            return text
    try:
        done = subprocess.run(
            [ruff, "format", "--isolated", "-"], input=text, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return text
    return done.stdout if done.returncode == 0 else text


def _imports(text: str, helpers: set[str], extra: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    needs_log2pi = bool({"normal_log_prob", "standard_normal_log_prob"} & helpers) or "LOG_2PI" in text
    needs_math = needs_log2pi or "kl_bernoulli_prior" in helpers or "math." in text
    std = sorted({*extra, "import zlib"} | ({"import math"} if needs_math else set()))
    std = [s for s in std if s.startswith("import ")] + [s for s in std if s.startswith("from ")]
    third = ["import numpy as np"] if "np." in text else []
    third.append("import torch")
    if "F." in text:
        third.append("import torch.nn.functional as F")
    if "zuko." in text:
        third.append("import zuko")
    if "nn." in text:
        third.append("from torch import nn")
    consts = ["LOG_2PI = math.log(2 * math.pi)"] if needs_log2pi else []
    return [*std, "", *third], consts


def loss_module(model: Any, spec_name: str) -> str:
    """The loss functions of a spec alone (``schemagm compile --emit python``): ``Noise``, the
    helpers, one terms function per phase and ``losses``, over ``nets`` with the networks as
    attributes named like the spec's (``model.networks`` of the compiled model will do)."""
    body, helpers = loss_source(model)
    g = model.graph
    head = [
        f'"""The loss of every group of {g.name}, as plain PyTorch (`schemagm compile {spec_name} --emit python`).',
        "",
        "nets: the networks as attributes named like the spec's (nets.q_eta ...); batch: the data",
        "nodes by name; noise: Noise() for fresh draws, Noise(model.last_draws) to replay a call.",
        '"""',
    ]
    helper_text = _helpers_source(helpers)
    code = "\n".join([textwrap.dedent(NOISE).strip() + "\n", helper_text, body])
    imports, consts = _imports(code, helpers)
    text = "\n".join(["\n".join(head), "\n".join(imports), "", "\n".join(consts), "", code])
    return format_source(valid_python(text))
