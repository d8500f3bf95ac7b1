"""The architecture diagram of a stack, as its blueprint declares it: tiers, data stores,
queues and the flows between them (who reads, writes, publishes, consumes, submits).

Mermaid for GitHub (rendered in comments and Markdown files) and Graphviz DOT for SVG. The
graph comes from the blueprint, read in a child process from the tree being described, so a
pull request's diagram shows its own blueprint, not the base's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierstack.preview.project import Project, stack_file

_SHAPES = {  # kind -> (mermaid open, close, dot shape)
    "users": ("([", "])", "ellipse"),
    "lb": ("[/", "/]", "trapezium"),
    "tier": ("[", "]", "box"),
    "object_store": ("[(", ")]", "cylinder"),
    "table": ("[(", ")]", "cylinder"),
    "database": ("[(", ")]", "cylinder"),
    "queue": ("{{", "}}", "hexagon"),
    "notifications": (">", "]", "cds"),
    "cluster": ("[[", "]]", "box3d"),
    "ingest": ("{{", "}}", "hexagon"),
}
_KIND_LABEL = {
    "object_store": "object store",
    "table": "key-value table",
    "database": "PostgreSQL",
    "queue": "queue + DLQ",
    "notifications": "notifications",
    "cluster": "MapReduce cluster",
    "ingest": "IoT ingest",
}


class DiagramError(Exception):
    """No blueprint to draw (not a tierstack stack, or the blueprint cannot be read)."""


def _ident(name: str) -> str:
    return "n_" + re.sub(r"\W", "_", name)


@dataclass
class Graph:
    title: str
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (label, kind)
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)  # src, dst, label, both
    groups: dict[str, list[str]] = field(default_factory=dict)  # group title -> node ids
    added: set[str] = field(default_factory=set)  # component names new in this change
    removed: set[str] = field(default_factory=set)  # component names gone from the blueprint

    def node(self, name: str, label: str, kind: str, group: str | None = None) -> str:
        ident = _ident(name)
        self.nodes[ident] = (label, kind)
        if group:
            self.groups.setdefault(group, []).append(ident)
        return ident


def graph(blueprint: dict[str, Any], title: str) -> Graph:
    """The component graph of a blueprint (as `dataclasses.asdict` gives it)."""
    g = Graph(title)
    ids: dict[str, str] = {}
    for key, kind in (
        ("object_stores", "object_store"),
        ("tables", "table"),
        ("databases", "database"),
    ):
        for item in blueprint.get(key) or ():
            label = f"{item['name']}<br/>{_KIND_LABEL[kind]}"
            ids[item["name"]] = g.node(item["name"], label, kind, "data")
    for item in blueprint.get("queues") or ():
        label = f"{item['name']}<br/>{_KIND_LABEL['queue']}"
        ids[item["name"]] = g.node(item["name"], label, "queue", "messaging")
    for item in blueprint.get("notifications") or ():
        label = f"{item['name']}<br/>notifications"
        ids[item["name"]] = g.node(item["name"], label, "notifications", "messaging")
    cluster = blueprint.get("mapreduce")
    if cluster:
        ids[cluster["name"]] = g.node(
            cluster["name"], f"{cluster['name']}<br/>{_KIND_LABEL['cluster']}", "cluster", "data"
        )
        stores = (cluster["code_store"], cluster["log_store"])
        if any(store not in ids for store in stores):
            raise DiagramError(f"{cluster['name']} names an unknown object store")
        g.edges.append((ids[cluster["name"]], ids[stores[0]], "jobs, input, output", True))
        if stores[1] != stores[0]:
            g.edges.append((ids[cluster["name"]], ids[stores[1]], "logs", False))
    tiers = []
    app = blueprint.get("app")
    if app:
        users = g.node("users", "users", "users")
        lb = g.node("load-balancer", "load balancer<br/>HTTPS", "lb")
        ids[app["name"]] = g.node(app["name"], f"{app['name']}<br/>app tier", "tier", "compute")
        g.edges.append((users, lb, "HTTPS", False))
        g.edges.append((lb, ids[app["name"]], f"port {app['port']}", False))
        tiers.append(app)
    for worker in blueprint.get("workers") or ():
        ids[worker["name"]] = g.node(
            worker["name"], f"{worker['name']}<br/>worker tier", "tier", "compute"
        )
        tiers.append(worker)
    iot = blueprint.get("iot")
    if iot:
        devices = g.node("devices", "sensors<br/>MQTT gateways", "users")
        ids[iot["name"]] = g.node(
            iot["name"], f"{iot['name']}<br/>IoT ingest", "ingest", "messaging"
        )
        g.edges.append((devices, ids[iot["name"]], iot["topic_filter"], False))
        if iot["to_queue"] not in ids:
            raise DiagramError(f"{iot['name']} forwards to unknown queue {iot['to_queue']!r}")
        g.edges.append((ids[iot["name"]], ids[iot["to_queue"]], "forward", False))
    for tier in tiers:
        for use in tier.get("uses") or ():
            if use["target"] not in ids:
                raise DiagramError(f"{tier['name']} uses unknown component {use['target']!r}")
            target, access = ids[use["target"]], use["access"]
            if access in ("consume", "read"):
                g.edges.append((target, ids[tier["name"]], access, False))
            else:
                g.edges.append((ids[tier["name"]], target, access, access == "read-write"))
    return g


def _label(text: str) -> str:
    return text.replace('"', "'")


def mermaid(g: Graph) -> str:
    lines = ["flowchart LR"]
    grouped = {ident for members in g.groups.values() for ident in members}

    def node_line(ident: str) -> str:
        label, kind = g.nodes[ident]
        opening, closing, _ = _SHAPES[kind]
        return f'{ident}{opening}"{_label(label)}"{closing}'

    lines.extend(f"  {node_line(i)}" for i in g.nodes if i not in grouped)
    for title, members in g.groups.items():
        lines.append(f"  subgraph {title}")
        lines.extend(f"    {node_line(i)}" for i in members)
        lines.append("  end")
    for src, dst, label, both in g.edges:
        arrow = "<-->" if both else "-->"
        lines.append(f'  {src} {arrow}|"{_label(label)}"| {dst}')
    for name in sorted(g.removed):
        lines.append(f'  {_ident(name)}["{_label(name)}<br/>removed"]:::removed')
    if g.added or g.removed:
        lines.append("  classDef added fill:#dafbe1,stroke:#1a7f37,stroke-width:2px")
        lines.append("  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4")
    for ident in sorted({_ident(name) for name in g.added} & set(g.nodes)):
        lines.append(f"  class {ident} added")
    return "\n".join(lines) + "\n"


def dot(g: Graph) -> str:
    """The same graph for Graphviz (`dot -Tsvg`)."""
    lines = [
        f'digraph "{_label(g.title)}" {{',
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    grouped = {ident for members in g.groups.values() for ident in members}

    def node_line(ident: str) -> str:
        label, kind = g.nodes[ident]
        text = _label(label).replace("<br/>", "\\n")
        added = {_ident(name) for name in g.added}
        style = ', style=filled, fillcolor="#dafbe1"' if ident in added else ""
        return f'{ident} [label="{text}", shape={_SHAPES[kind][2]}{style}];'

    lines.extend(f"  {node_line(i)}" for i in g.nodes if i not in grouped)
    for title, members in g.groups.items():
        lines.append(f'  subgraph "cluster_{title}" {{ label="{title}";')
        lines.extend(f"    {node_line(i)}" for i in members)
        lines.append("  }")
    for src, dst, label, both in g.edges:
        extra = ", dir=both" if both else ""
        lines.append(f'  {src} -> {dst} [label="{_label(label)}"{extra}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


class SvgUnavailable(DiagramError):
    """Graphviz is not installed."""


def svg(g: Graph) -> str:
    """SVG through Graphviz's `dot` (installed by scripts/setup.d/40-graphviz.sh)."""
    binary = shutil.which("dot")
    if binary is None:
        raise SvgUnavailable(
            "SVG needs Graphviz's `dot`: run `make setup` (or apt-get install graphviz), "
            "or use --format mermaid"
        )
    done = subprocess.run(
        [binary, "-Tsvg"], input=dot(g), capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise DiagramError(f"dot failed: {done.stderr.strip()}")
    return done.stdout


# The blueprint modules are the pull request's code: they run without credentials, as the
# previews do.
_CREDENTIALS = re.compile(
    r"^(AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|ARM_|AZURE_|PULUMI_|GITHUB_TOKEN|ACTIONS_)"
    r"|TOKEN|SECRET|PASSWORD|CREDENTIAL"
)


def load_blueprints(tree: Path) -> dict[str, Any]:
    """Every blueprint of the tree rooted at `tree`, read in a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "tierstack.report.blueprint_dump"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not _CREDENTIALS.search(k)},
    )
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DiagramError(f"the blueprints of {tree} cannot be read: {tail}") from error
    if "error" in data and not isinstance(data["error"], dict):
        raise DiagramError(data["error"])
    return data


def stack_app(project: Project, stack: str) -> str | None:
    """The blueprint a tierstack stack file names (`<project>:app`)."""
    data = yaml.safe_load(stack_file(project, stack).read_text(encoding="utf-8")) or {}
    app = (data.get("config") or {}).get(f"{project.name}:app")
    return str(app) if app else None


def stack_graph(project: Project, stack: str, blueprints: dict[str, Any]) -> Graph:
    app = stack_app(project, stack)
    if app is None or app not in blueprints:
        raise DiagramError(f"stack {stack!r} names no blueprint of this project (`app` config)")
    return graph(blueprints[app], f"{stack}: {app}")
