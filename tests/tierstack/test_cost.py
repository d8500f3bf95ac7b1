"""`tierstack cost` and the price table: figures follow from the table's lines, resources the
table cannot price are listed (never counted as zero), and every line says where it came from."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tierstack.report import cost
from tierstack.report.prices import main as prices_main

from .conftest import run_cli

TABLE = cost.load_table()


def usd(cloud: str, region: str, item: str, size: str | None = None) -> float:
    """The monthly figure of one table line."""
    entry = TABLE.prices[(cloud, region, item, size)]
    return float(entry["usd"]) * (TABLE.hours_per_month if entry["unit"] == "hour" else 1.0)


def run_cost(stack: str) -> dict[str, Any]:
    done = run_cli("cost", "--stack", stack, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def lines_by_name(estimate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {(line["name"], line["type"].rsplit(":", 1)[-1]): line for line in estimate["lines"]}


def test_every_price_line_has_a_source_and_a_date() -> None:
    assert len(TABLE.prices) > 30
    for key, entry in TABLE.prices.items():
        assert entry["source"].startswith("https://"), key
        checked = datetime.date.fromisoformat(str(entry["date"]))
        assert datetime.date(2025, 1, 1) <= checked <= datetime.date.today(), key
        assert entry["usd"] > 0, key
        # Either the page the figure was compared with, or why no page could confirm it.
        assert ("checked" in entry) != ("unverified" in entry), key
        if "checked" in entry:
            assert entry["checked"].startswith("https://"), key
        else:
            assert len(entry["unverified"]) > 10, key
    assert not TABLE.free & TABLE.usage
    assert not (TABLE.free | TABLE.usage) & set(cost.NEEDS)


@pytest.mark.parametrize(
    ("extra", "fine"),
    [({}, False), ({"checked": "https://x.example/p"}, True), ({"unverified": "none"}, True)],
)
def test_a_line_must_say_whether_it_was_checked(
    tmp_path: Path, extra: dict[str, str], fine: bool
) -> None:
    line = {"cloud": "aws", "region": "r", "item": "alb", "unit": "hour", "usd": 1.0}
    line |= {"source": "https://x.example", "date": "2026-11-30", **extra}
    both = {**line, "checked": "https://x.example/p", "unverified": "none"}
    for entry, expected in ((line, fine), (both, False)):
        path = tmp_path / "prices.yaml"
        table = {"currency": "USD", "hours_per_month": 730, "free": {}, "usage": {}}
        path.write_text(yaml.safe_dump({**table, "prices": [entry]}), encoding="utf-8")
        if expected:
            assert cost.load_table(path).prices
        else:
            with pytest.raises(cost.PriceTableError, match="price line 1 needs either"):
                cost.load_table(path)


def _unverified_items(cloud: str, region: str) -> set[str]:
    return {
        f"{item} {size}" if size else item
        for (c, r, item, size), entry in TABLE.prices.items()
        if (c, r) == (cloud, region) and "unverified" in entry
    }


def test_make_prices_explains_the_refresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert prices_main(["--max-age", "-1"]) == 0  # every line due
    out = capsys.readouterr().out
    assert "Due: https://aws.amazon.com/ec2/pricing/on-demand/" in out
    checked = TABLE.prices[("aws", "eu-west-1", "ec2", "t3.small")]["date"]
    age = (datetime.date.today() - datetime.date.fromisoformat(str(checked))).days
    assert f"    aws eu-west-1 ec2 t3.small ({age} days)" in out
    assert "To refresh a line: open its source page" in out
    unverified = [e for e in TABLE.prices.values() if "unverified" in e]
    assert f"Unverified ({len(unverified)} of {len(TABLE.prices)}, labelled where used):" in out
    assert (
        "    aws eu-west-1 ec2 t3.small: "
        + TABLE.prices[("aws", "eu-west-1", "ec2", "t3.small")]["unverified"]
        in out.splitlines()
    )
    assert prices_main(["--max-age", "100000"]) == 0
    assert "Every line was checked within 100000 days." in capsys.readouterr().out


@pytest.fixture(scope="module")
def aws_drive() -> dict[str, Any]:
    return run_cost("aws-cloud-drive")


def test_aws_stack_priced_from_the_table(aws_drive: dict[str, Any]) -> None:
    region = ("aws", "eu-west-1")
    assert (aws_drive["cloud"], aws_drive["region"]) == region
    lines = lines_by_name(aws_drive)
    assert lines["web", "Group"]["monthly"] == pytest.approx(usd(*region, "ec2", "t3.small"))
    assert lines["drive-db", "Instance"]["monthly"] == pytest.approx(
        usd(*region, "rds-postgres", "db.t4g.small") + 20 * usd(*region, "rds-storage", "gp3")
    )
    assert lines["web-lb", "LoadBalancer"]["monthly"] == pytest.approx(usd(*region, "alb"))
    assert aws_drive["monthlyUsd"] == pytest.approx(
        sum(line["monthly"] for line in aws_drive["lines"]), abs=0.006
    )
    assert aws_drive["unpriced"] == []
    usage = {(u["type"], u["name"]) for u in aws_drive["usageBased"]}
    assert ("aws:s3/bucket:Bucket", "documents") in usage


def test_figures_on_unverified_prices_are_labelled(aws_drive: dict[str, Any]) -> None:
    """Each line names exactly the unverified price lines it rests on, the total says how
    much of it they make up, and the text output labels the same lines."""
    doubtful = _unverified_items("aws", "eu-west-1")
    lines = lines_by_name(aws_drive)
    assert lines["web", "Group"]["unverified"] == ["ec2 t3.small"]
    assert lines["drive-db", "Instance"]["unverified"] == ["rds-postgres db.t4g.small"]
    assert lines["web-lb", "LoadBalancer"]["unverified"] == []  # checked against a page
    for line in aws_drive["lines"]:
        assert set(line["unverified"]) <= doubtful, line
    labelled = [line for line in aws_drive["lines"] if line["unverified"]]
    assert labelled and len(labelled) < len(aws_drive["lines"])
    assert aws_drive["unverifiedUsd"] == pytest.approx(
        sum(line["monthly"] for line in labelled), abs=0.006
    )
    text = run_cli("cost", "--stack", "aws-cloud-drive").stdout.splitlines()
    (web,) = [row for row in text if row.startswith("  web ")]
    assert web.endswith("  [unverified price: ec2 t3.small]")
    (lb,) = [row for row in text if row.startswith("  web-lb ")]
    assert "unverified" not in lb
    note = f"Unverified: {cost.money(aws_drive['unverifiedUsd'])} of it from unverified prices"
    assert any(row.startswith(note) for row in text), text


def test_gcp_cloud_sql_from_its_tier() -> None:
    estimate = run_cost("gcp-cloud-drive")
    region = ("gcp", "europe-west1")
    sql = next(line for line in estimate["lines"] if line["type"].endswith("DatabaseInstance"))
    # db-custom-1-3840: one vCPU and 3.75 GB, zonal, 20 GB of SSD.
    assert sql["monthly"] == pytest.approx(
        usd(*region, "cloudsql", "vcpu")
        + 3.75 * usd(*region, "cloudsql", "memory-gb")
        + 20 * usd(*region, "cloudsql-storage", "PD_SSD")
    )
    assert estimate["unpriced"] == []


def test_what_the_table_lacks_is_listed_not_counted() -> None:
    estimate = run_cost("azure-image-processing")
    unpriced = {(u["type"], u["name"]): u["reason"] for u in estimate["unpriced"]}
    assert unpriced == {
        ("azure-native:cosmosdb:DatabaseAccount", "job-status-account"): (
            "no price for this resource type"
        )
    }
    names = {line["name"] for line in estimate["lines"]}
    assert "job-status-account" not in names
    text = run_cli("cost", "--stack", "azure-image-processing").stdout
    assert "Unpriced (not counted): job-status-account (azure-native:cosmosdb:DatabaseAccount)" in (
        text
    )


def test_a_region_without_prices_prices_nothing(aws_drive: dict[str, Any]) -> None:
    done = run_cli("preview", "--stack", "aws-cloud-drive", "--json", "--no-policy")
    result = json.loads(done.stdout)
    estimate = cost.estimate(result, region="ap-south-1")
    assert estimate.total == 0 and estimate.lines == []
    reasons = {u.name: u.reason for u in estimate.unpriced}
    assert reasons["web"] == "no price line for ec2 t3.small in ap-south-1"
    assert len(estimate.unpriced) == len(aws_drive["lines"])


def test_unknown_stack_is_a_usage_error() -> None:
    done = run_cli("cost", "--stack", "aws-nope")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "unknown stack 'aws-nope'" in done.stderr
