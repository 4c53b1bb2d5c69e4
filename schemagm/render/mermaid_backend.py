"""Drawing description -> Mermaid flowchart text (needs no program; GitHub renders it).

Mermaid has no hollow arrow head, so a deterministic arc ends in a circle
(``--o``, ``-.-o``); a solid arc is ``-->``, a dashed one ``-.->``.  Red arcs get
a ``linkStyle`` line (by link index); data nodes are shaded (``classDef data``), a data node
``given y`` is a double circle.  One Mermaid link per arc, in the drawing's
order, so ``linkStyle`` indices are the arc indices.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LINKS", "to_mermaid"]

#: (line, head) -> Mermaid link
LINKS = {
    ("solid", "filled"): "-->",
    ("solid", "hollow"): "--o",
    ("dashed", "filled"): "-.->",
    ("dashed", "hollow"): "-.-o",
    ("solid", "invertible"): "<-->",
    ("dashed", "invertible"): "<-.->",
}

_SAFE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _id(node_id: str) -> str:
    """A node's Mermaid id: ``n_`` + its id, so that no name is read as a keyword (``end``)
    and none clashes with the legend's ids."""
    if not _SAFE_ID.match(node_id):
        raise ValueError(f"not a Mermaid-safe node id: {node_id!r}")
    return "n_" + node_id


def _text(fragment: str) -> str:
    """A quoted Mermaid label (HTML allowed; a double quote written as an entity)."""
    return '"' + fragment.replace('"', "#quot;") + '"'


def _node(node: dict[str, Any]) -> str:
    label = _text(node["label"]["html"])
    if node["style"].get("peripheries", 1) > 1:
        return f"{_id(node['id'])}((({label})))"
    return f"{_id(node['id'])}(({label}))"


def _link(source: str, target: str, style: dict[str, Any], label: dict[str, str] | None) -> str:
    """A link between two Mermaid ids."""
    arrow = LINKS[(style["line"], style["head"])]
    text = f"|{_text(label['html'])}|" if label else ""
    return f"{source} {arrow}{text} {target}"


def to_mermaid(d: dict[str, Any]) -> str:
    """Mermaid flowchart text of a drawing description (deterministic)."""
    lines = [f"flowchart {d.get('direction', 'LR')}"]
    links: list[str] = []
    styles: list[tuple[int, dict[str, Any]]] = []
    classes: dict[str, list[str]] = {"data": [], "partial": [], "indicator": []}
    panels = d["panels"]
    nested = len(panels) > 1 or bool(panels[0].get("title"))
    for panel in panels:
        indent = "    " * (2 if nested else 1)
        if nested:
            lines.append(f"    subgraph panel_{panel['id']}[{_text(panel.get('title') or panel['id'])}]")
        for node in panel["nodes"]:
            lines.append(indent + _node(node))
            if node["style"].get("partial"):  # Mermaid cannot half-shade: a lighter fill, a dashed ring
                classes["partial"].append(_id(node["id"]))
            elif node["role"] in classes:
                classes[node["role"]].append(_id(node["id"]))
        for arc in panel["edges"]:
            label = arc["label"]
            if arc.get("branch"):  # Mermaid has no tail label: the branch joins the label
                html = " ".join(x["html"] for x in (label, arc["branch"]) if x)
                label = {"text": html, "html": html}
            lines.append(indent + _link(_id(arc["source"]), _id(arc["target"]), arc["style"], label))
            if arc["adversarial"]:
                styles.append((len(links), arc["style"]))
            links.append(arc["id"])
        if nested:
            lines.append("    end")
    if d.get("legend"):
        lines.append('    subgraph legend["legend"]')
        for i, entry in enumerate(d["legend"]):
            if "node_style" in entry:
                lines.append(f"        legend_n{i}(({_text('&nbsp;')})) ~~~ legend_t{i}[{_text(entry['text'])}]")
                classes["partial" if entry["node_style"].get("partial") else "data"].append(f"legend_n{i}")
                links.append(f"legend{i}")
                continue
            lines.append(f"        legend_s{i}[{_text(' ')}]")
            lines.append(f"        legend_t{i}[{_text(entry['text'])}]")
            lines.append("        " + _link(f"legend_s{i}", f"legend_t{i}", entry["style"], entry.get("label")))
            if entry["style"]["color"] != "#000000":
                styles.append((len(links), entry["style"]))
            links.append(f"legend{i}")
        lines.append("    end")
    for i, style in styles:
        lines.append(
            f"    linkStyle {i} "
            f"stroke:{style['color']},stroke-width:{style['penwidth']:.1f}px,color:{style['fontcolor']}"
        )
    lines.append("    classDef data fill:#d9d9d9,stroke:#000000")
    if classes["partial"]:
        lines.append("    classDef partial fill:#eeeeee,stroke:#000000,stroke-dasharray:3 2")
    lines.append("    classDef indicator font-size:11px")
    for name, members in classes.items():
        if members:
            lines.append(f"    class {','.join(members)} {name}")
    if d.get("caption"):
        # Mermaid has no figure caption: the objective follows as comments
        lines.extend("%% " + line for line in d["caption"].split("\n"))
    return "\n".join(lines) + "\n"
