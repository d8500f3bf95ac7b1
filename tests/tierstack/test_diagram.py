"""`tierstack diagram`: the stack's blueprint drawn as Mermaid (for GitHub) or SVG (Graphviz),
with every flow the blueprint declares."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from stacks.blueprints import BLUEPRINTS

from .conftest import run_cli


def ident(name: str) -> str:
    return "n_" + re.sub(r"\W", "_", name)


@pytest.mark.parametrize("stack", ["aws-mapreduce", "gcp-iot-gateway", "azure-social-analytics"])
def test_mermaid_has_every_declared_flow(stack: str) -> None:
    done = run_cli("diagram", "--stack", stack)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("flowchart LR\n")
    blueprint = BLUEPRINTS[stack.split("-", 1)[1]]()
    tiers = [*([blueprint.app] if blueprint.app else []), *blueprint.workers]
    flows = 0
    for tier in tiers:
        for use in tier.uses:
            src, dst = ident(tier.name), ident(use.target)
            if use.access in ("read", "consume"):
                src, dst = dst, src
            arrow = "<-->" if use.access == "read-write" else "-->"
            assert f'  {src} {arrow}|"{use.access}"| {dst}' in text, (tier.name, use)
            flows += 1
    edges = re.findall(r"^\s+n_\w+ (?:-->|<-->)\|", text, re.M)
    assert len(edges) >= flows > 2
    for queue in blueprint.queues:
        assert f'{ident(queue.name)}{{{{"{queue.name}<br/>queue + DLQ"}}}}' in text
    if blueprint.app:
        assert 'n_users -->|"HTTPS"| n_load_balancer' in text


def test_svg_through_graphviz() -> None:
    done = run_cli("diagram", "--stack", "aws-mapreduce", "--format", "svg")
    assert done.returncode == 0, done.stderr
    root = ElementTree.fromstring(done.stdout)
    assert root.tag.endswith("svg")
    texts = {element.text for element in root.iter() if element.tag.endswith("text")}
    assert {"job-runner", "worker tier", "hadoop", "MapReduce cluster", "submit"} <= texts
    nodes = [e for e in root.iter() if e.get("class") == "node"]
    mermaid = run_cli("diagram", "--stack", "aws-mapreduce").stdout
    assert len(nodes) == len(re.findall(r"^\s+n_\w+[\[\(\{>]", mermaid, re.M))


def test_unknown_stack_is_one_line() -> None:
    done = run_cli("diagram", "--stack", "aws-nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tierstack: error: unknown stack 'aws-nope'; available: "
        + ", ".join(sorted(f"{c}-{a}" for c in ("aws", "azure", "gcp") for a in BLUEPRINTS))
    ]
