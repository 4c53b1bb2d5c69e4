"""One look for every command's help: plain text that fits 80 columns, upper-case placeholders.

Typer builds the click commands from the command modules; :func:`polish` then walks them once
and gives them the same conventions, so that no command module has to repeat them:

* help is click's plain formatter (typer's rich panels cut flags and lists short at 80 columns
  and read ``[...]`` in help texts as markup), wrapped to the terminal, defaults shown;
* indented lines of a help text (the examples) are kept as written, not re-wrapped;
* placeholders are upper-case words: ``SPEC``, ``RUN``, ``FILE``, ``DIR``, ``N``, ``NUMBER``...;
* each command has a short, whole line in ``schemagm --help`` (never cut with an ellipsis).
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperGroup

__all__ = ["polish", "SHORT_HELP"]

#: the one-line summaries of ``schemagm --help`` (and of ``schemagm transform --help``)
SHORT_HELP = {
    "check": "Parse and check specs; report every problem.",
    "fmt": "Print (or rewrite) a spec in its canonical form.",
    "compile": "Show the networks and the derived objective.",
    "eject": "Write a spec as a standalone PyTorch script.",
    "render": "Draw a spec as the paper draws it.",
    "transform": "Transform a spec and print the result.",
    "equiv": "Compare the structure of two specs.",
    "explain": "Find the transformations between two specs.",
    "train": "Train a spec; write a run directory.",
    "sample": "Draw samples from a trained run.",
    "eval": "Evaluate a trained run.",
    "reproduce": "Reproduce the paper's tables over seeds.",
}

#: placeholders of one command's parameters
COMMAND_PLACEHOLDERS = {
    ("equiv", "a"): "SPEC_A",
    ("equiv", "b"): "SPEC_B",
    ("explain", "a"): "SPEC_A",
    ("explain", "b"): "SPEC_B",
}

#: placeholders by parameter name (arguments and options alike)
PLACEHOLDERS = {
    "spec": "SPEC",
    "run": "RUN",
    "resume": "RUN",
    "out": "DIR",
    "files": "FILE",
    "file": "FILE",
    "data": "SOURCE",
    "lr": "RATE",
    "config": "FILE",
    "output": "FILE",
    "npy": "FILE",
    "json_out": "FILE",
    "json": "FILE",
    "device": "DEVICE",
    "checkpoint": "FILE",
    "optimizer": "NAME",
    "transform": "NAME",
    "compare": "NAME",
    "format": "FORMAT",
    "direction": "LR|TB",
    "metrics": "LIST",
    "bandwidths": "LIST",
}


def _type_word(param: Any) -> str:
    """The value type's name, in typer's own parameters (``<int range>``) or click's (``integer``)."""
    try:
        return str(param.display_type(None)).lower()
    except Exception:  # older typer: click's parameter types
        return str(getattr(getattr(param, "type", None), "name", "")).lower()


def _placeholder(command: str | None, param: Any) -> str:
    name = param.name or ""
    word = COMMAND_PLACEHOLDERS.get((command or "", name), PLACEHOLDERS.get(name))
    if word is None:
        kind = _type_word(param)
        word = "N" if "int" in kind else "NUMBER" if "float" in kind else "FILE" if "path" in kind else name.upper()
    return word


#: the longest line of an example as written in a help text (click indents it by 2 more)
EXAMPLE_WIDTH = 76


def _break_command(line: str) -> str:
    """A long example command broken with shell continuations (``\\``) at spaces outside quotes,
    so that it stays within 80 columns and can still be copied."""
    indent = len(line) - len(line.lstrip())
    pieces, current, quote = [], "", ""
    for ch in line.strip():
        if ch in "'\"" and quote in ("", ch):
            quote = "" if quote == ch else ch
        if ch == " " and not quote:
            pieces.append(current)
            current = ""
        else:
            current += ch
    pieces.append(current)
    rows: list[list[str]] = [[pieces[0]]]
    for word in pieces[1:]:
        width = (indent if len(rows) == 1 else indent + 4) + len(" ".join(rows[-1]))
        if width + 1 + len(word) + 2 > EXAMPLE_WIDTH:
            carried = [rows[-1].pop()] if len(rows[-1]) > 1 and rows[-1][-1].startswith("-") else []
            rows.append([*carried, word])  # an option stays with its value
        else:
            rows[-1].append(word)
    first = " " * indent + " ".join(rows[0])
    rest = [" " * (indent + 4) + " ".join(r) for r in rows[1:]]
    return " \\\n".join([first, *rest])


def _keep_indented(text: str | None) -> str | None:
    """Mark each paragraph whose lines are indented (examples) with click's no-rewrap marker,
    breaking the commands that would run past 80 columns."""
    if not text:
        return text
    paragraphs = re.split(r"\n\s*\n", text.strip("\n"))
    out = []
    for p in paragraphs:
        lines = p.split("\n")
        if all(line.startswith("  ") for line in lines if line.strip()):
            kept = [_break_command(line) if len(line) > EXAMPLE_WIDTH else line for line in lines]
            out.append("\b\n" + "\n".join(kept))
        else:
            out.append(p)
    return "\n\n".join(out)


def _plain_argument(param: Any) -> None:
    """An argument shows as its placeholder: ``SPEC`` (typer: ``{spec}``, ``spec <path>``), ``[SPEC]``
    when optional, ``FILE...`` when it takes several."""
    word = param.metavar + ("..." if param.nargs != 1 else "")
    usage = word if param.required else f"[{word}]"
    param.display_type_rich = lambda ctx: None
    param._rich_display_name = lambda: word
    param._usage_display_name = lambda: usage
    param.make_metavar = lambda *args: usage  # older typer/click


def _polish_command(cmd: Any, name: str | None) -> None:
    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None  # type: ignore[attr-defined]
    cmd.help = _keep_indented(cmd.help)
    if name in SHORT_HELP and cmd.short_help is None:
        cmd.short_help = SHORT_HELP[name]
    if cmd.short_help is None and cmd.help:
        first = cmd.help.split("\n\n")[0].replace("\n", " ").strip()
        cmd.short_help = first.split(";")[0].rstrip(".") + "."  # a whole clause, never cut short
    cmd.context_settings.setdefault("max_content_width", 80)
    for param in cmd.params:
        flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if flag and not isinstance(param, TyperArgument):
            continue
        if param.metavar is None:
            param.metavar = _placeholder(name, param)
        if isinstance(param, TyperArgument):
            _plain_argument(param)
    if isinstance(cmd, TyperGroup):
        for sub_name, sub in cmd.commands.items():
            _polish_command(sub, sub_name)


def polish(cmd: Any) -> Any:
    """Apply the conventions above to ``cmd`` and every sub-command; returns ``cmd``."""
    _polish_command(cmd, None)
    return cmd
