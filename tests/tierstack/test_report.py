"""`tierstack report` through its entry point, on git repositories with a base commit on main
and branches that change the blueprints: what the report says must be exactly what changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tierstack.report.cost import PRICES

from .conftest import run_cli, write
from .report_repos import branch, commit, edit, git, project_copy

IMAGE_STACK = "aws-image-processing"
BLUEPRINT = "stacks/blueprints/image_processing.py"


def _add_bucket(repo: Path) -> None:
    edit(
        repo / BLUEPRINT,
        '            ObjectStore("images", "originals and filtered results", '
        "noncurrent_version_days=30),\n",
        '            ObjectStore("images", "originals and filtered results", '
        "noncurrent_version_days=30),\n"
        '            ObjectStore("thumbnails", "thumbnail cache"),\n',
    )


def _feature(repo: Path) -> None:
    """Adds a queue, changes an instance size, removes a bucket."""
    edit(repo / BLUEPRINT, '            ObjectStore("thumbnails", "thumbnail cache"),\n', "")
    edit(
        repo / BLUEPRINT,
        "        queues=(\n",
        '        queues=(\n            Queue("thumbnail-jobs", "thumbnail requests"),\n',
    )
    edit(repo / "stacks/aws/sizes.py", '"small": "t3.small"', '"small": "t3.medium"')


def _breaks_policy(repo: Path) -> None:
    """m6i.large is not on the dev allow-list of instance types (a mandatory policy)."""
    config = repo / "stacks/config" / f"Pulumi.{IMAGE_STACK}.yaml"
    config.write_text(
        config.read_text() + "  tierstack:sizing:\n    appSize: medium\n", encoding="utf-8"
    )


def _broken(repo: Path) -> None:
    """A tier that uses a component the blueprint does not declare: the program fails."""
    edit(
        repo / BLUEPRINT,
        '    Uses("filter-jobs", "publish", "QUEUE_URL"),\n',
        '    Uses("filter-jobs", "publish", "QUEUE_URL"),\n    Uses("nowhere", "read"),\n',
    )


@pytest.fixture(scope="module")
def image_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = project_copy(tmp_path_factory.mktemp("report") / "repo", [IMAGE_STACK])
    _add_bucket(repo)
    commit(repo, "base: image processing with a thumbnail bucket")
    branch(repo, "feature", _feature)
    branch(repo, "breaks-policy", _breaks_policy)
    branch(repo, "docs-only", lambda r: (r / "NOTES.md").write_text("notes\n"))
    branch(repo, "broken", _broken)
    return repo


def _report(repo: Path, ref: str, *args: str):
    """Without the progress lines (tested in test_progress_lines_of_a_report): stderr holds
    only what failed."""
    git(repo, "checkout", "--quiet", ref)
    return run_cli("report", "--cwd", str(repo), "--base", "main", "--quiet", *args)


def _both(repo: Path, ref: str, out: Path, *args: str):
    """One run, both forms: JSON on stdout, the Markdown in a file."""
    done = _report(repo, ref, "--format", "json", "--full-output", str(out), *args)
    return done, json.loads(done.stdout), out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def feature(image_repo: Path) -> tuple[dict, str]:
    done, data, markdown = _both(image_repo, "feature", image_repo.parent / "feature.md")
    assert done.returncode == 0, done.stderr
    return data, markdown


@pytest.fixture(scope="module")
def feature_json(feature: tuple[dict, str]) -> dict:
    return feature[0]


@pytest.fixture(scope="module")
def feature_markdown(feature: tuple[dict, str]) -> str:
    return feature[1]


def _price(item: str, size: str) -> float:
    table = yaml.safe_load(PRICES.read_text())
    (line,) = [
        p
        for p in table["prices"]
        if (p["cloud"], p["region"], p["item"], p.get("size")) == ("aws", "eu-west-1", item, size)
    ]
    return float(line["usd"]) * (table["hours_per_month"] if line["unit"] == "hour" else 1)


def test_report_shows_exactly_the_changes(feature_json: dict) -> None:
    (stack,) = feature_json["stacks"]
    assert stack["stack"] == IMAGE_STACK
    changes = {(r["action"], r["type"], r["name"]) for r in stack["resources"]}
    queue_parts = {
        ("create", "tierstack:aws:Queue", "thumbnail-jobs"),
        ("create", "aws:sqs/queue:Queue", "thumbnail-jobs"),
        ("create", "aws:sqs/queue:Queue", "thumbnail-jobs-dlq"),
        ("create", "aws:sqs/queuePolicy:QueuePolicy", "thumbnail-jobs"),
        ("create", "aws:sqs/queuePolicy:QueuePolicy", "thumbnail-jobs-dlq"),
        ("create", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "thumbnail-jobs-dlq"),
        ("create", "aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-thumbnail-jobs-dead-letters"),
        (
            "create",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "alarms-thumbnail-jobs-oldest-message",
        ),
    }
    bucket_parts = {("delete", "tierstack:aws:ObjectStore", "thumbnails")} | {
        ("delete", f"aws:s3/{kind}", "thumbnails")
        for kind in (
            "bucket:Bucket",
            "bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "bucketOwnershipControls:BucketOwnershipControls",
            "bucketPolicy:BucketPolicy",
            "bucketPublicAccessBlock:BucketPublicAccessBlock",
            "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "bucketVersioning:BucketVersioning",
        )
    }
    sizes = {
        ("update", "aws:ec2/launchTemplate:LaunchTemplate", "web"),
        ("update", "aws:ec2/launchTemplate:LaunchTemplate", "filter-worker"),
    }
    assert changes == queue_parts | bucket_parts | sizes
    for update in (r for r in stack["resources"] if r["action"] == "update"):
        assert update["changes"] == [
            {"path": "instanceType", "old": "t3.small", "new": "t3.medium", "replaces": False}
        ]
    assert stack["counts"] == {
        "create": 8,
        "update": 2,
        "replace": 0,
        "delete": 8,
        "unchanged": stack["counts"]["unchanged"],
    }
    assert stack["counts"]["unchanged"] > 50
    assert feature_json["failed"] is False


def test_cost_delta_has_the_right_sign_and_size(feature_json: dict) -> None:
    (stack,) = feature_json["stacks"]
    # Two tiers at their minimum of one instance each move from t3.small to t3.medium; the
    # queue adds two alarms; the queue and the bucket are usage-based (no fixed charge).
    expected = 2 * (_price("ec2", "t3.medium") - _price("ec2", "t3.small")) + 2 * _price(
        "alarm", None
    )
    assert expected > 30
    assert stack["cost"]["deltaUsd"] == pytest.approx(expected, abs=0.006)
    head_usage = {u["name"] for u in stack["cost"]["head"]["usageBased"]}
    base_usage = {u["name"] for u in stack["cost"]["base"]["usageBased"]}
    assert {"thumbnail-jobs", "thumbnail-jobs-dlq"} <= head_usage - base_usage
    assert "thumbnails" in base_usage - head_usage


def test_markdown_summary_first_then_details_cost_and_diagram(feature_markdown: str) -> None:
    lines = feature_markdown.splitlines()
    assert lines[0] == "<!-- tierstack-report -->"
    summary = next(line for line in lines if line.startswith("**"))
    assert lines.index(summary) == 3, "the summary line comes first"
    delta = 2 * (_price("ec2", "t3.medium") - _price("ec2", "t3.small")) + 0.2
    assert summary == (
        f"**1 stack: 8 to create, 2 to update, 0 to replace, 8 to delete, "
        f"{summary.split(', ')[4].split()[0]} unchanged · cost +${delta:,.2f}/month · ✅ passing**"
    )
    assert "<details>" in feature_markdown and "</details>" in feature_markdown
    assert "  - `instanceType`: `t3.small` → `t3.medium`" in feature_markdown
    assert "`-` **delete** `aws:s3/bucket:Bucket` **thumbnails**" in feature_markdown
    mermaid = re.search(r"```mermaid\n(.*?)```", feature_markdown, re.S)
    assert mermaid, "a Mermaid diagram"
    diagram = mermaid.group(1)
    assert diagram.startswith("flowchart LR")
    assert 'n_thumbnail_jobs{{"thumbnail-jobs<br/>queue + DLQ"}}' in diagram
    assert "class n_thumbnail_jobs added" in diagram
    assert 'n_thumbnails["thumbnails<br/>removed"]:::removed' in diagram
    assert 'n_filter_jobs -->|"consume"| n_filter_worker' in diagram
    assert len(feature_markdown) < 65_536


def test_figures_on_unverified_prices_are_labelled(feature: tuple[dict, str]) -> None:
    """t3.medium's price line is unverified (no published page confirmed it): the cost line
    of each tier priced with it says so, the stack's estimate says how much of it rests on such
    lines, and the summary table marks the stack's monthly cost."""
    data, markdown = feature
    table = yaml.safe_load(PRICES.read_text())
    (medium,) = [p for p in table["prices"] if p.get("size") == "t3.medium"]
    assert "unverified" in medium and "checked" not in medium
    (stack,) = data["stacks"]
    head = stack["cost"]["head"]
    tiers = [line for line in head["lines"] if "t3.medium" in line["detail"]]
    assert len(tiers) == 2 and all(line["unverified"] == ["ec2 t3.medium"] for line in tiers)
    alarms = [line for line in head["lines"] if line["type"].endswith("MetricAlarm")]
    assert alarms and all(line["unverified"] == [] for line in alarms)
    rows = [row for row in markdown.splitlines() if "t3.medium (autoscaling minimum)" in row]
    assert len(rows) == 2
    assert all(row.endswith(" — ⚠️ unverified price: ec2 t3.medium |") for row in rows)
    note = f"⚠️ ${head['unverifiedUsd']:,.2f} of it from unverified prices"
    assert head["unverifiedUsd"] > 0 and note in markdown
    (summary_row,) = [row for row in markdown.splitlines() if row.startswith(f"| `{IMAGE_STACK}`")]
    assert f"${head['monthlyUsd']:,.2f} (unverified prices) |" in summary_row


def test_new_mandatory_violation_fails_the_report(image_repo: Path) -> None:
    done, data, markdown = _both(image_repo, "breaks-policy", image_repo.parent / "breaks.md")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"tierstack: {IMAGE_STACK}: 1 mandatory policy violation(s)"
    ]
    (stack,) = data["stacks"]
    (new,) = stack["policy"]["new"]
    assert new["policy"] == "aws-ec2-instance-type-allowed"
    assert new["level"] == "mandatory"
    assert "m6i.large" in new["message"]
    assert all(p["policy"] != new["policy"] for p in stack["policy"]["existing"])
    policy_rows = [line for line in markdown.splitlines() if line.startswith("| 🆕 new")]
    assert policy_rows and "`aws-ec2-instance-type-allowed`" in policy_rows[0]
    assert "❌ failing" in markdown


def test_failing_program_fails_the_report_with_its_message(image_repo: Path) -> None:
    done, data, markdown = _both(image_repo, "broken", image_repo.parent / "broken.md")
    assert done.returncode == 1
    message = "ValueError: web uses unknown component 'nowhere'"
    assert done.stderr.strip().splitlines() == [f"tierstack: {IMAGE_STACK}: {message}"]
    (stack,) = data["stacks"]
    assert message in stack["error"] and data["failed"] is True
    assert "The preview of this branch failed:" in markdown and message in markdown
    assert "| ❌ preview failed |" in markdown


def test_base_previews_are_kept_between_runs(image_repo: Path) -> None:
    cache = image_repo / ".tierstack" / "report-cache"
    shutil.rmtree(cache, ignore_errors=True)
    first, first_data, _ = _both(image_repo, "feature", image_repo.parent / "first.md")
    second, second_data, _ = _both(image_repo, "feature", image_repo.parent / "second.md")
    assert first.returncode == second.returncode == 0
    assert [s["baseFromCache"] for s in first_data["stacks"]] == [False]
    assert [s["baseFromCache"] for s in second_data["stacks"]] == [True]
    assert len(list(cache.glob("*.json.gz"))) == 1
    for data in (first_data, second_data):
        data["stacks"][0].pop("baseFromCache")
    assert first_data == second_data


def test_change_outside_the_stacks_affects_none(image_repo: Path) -> None:
    done = _report(image_repo, "docs-only")
    assert done.returncode == 0, done.stderr
    assert "**0 stacks: 0 to create" in done.stdout
    assert "No stack is affected by this change." in done.stdout


def test_progress_lines_of_a_report(image_repo: Path) -> None:
    """Not on a terminal, each phase is one line on stderr: the previews (head and base of the
    one affected stack, the base perhaps cached) and the comparison; stdout is the report."""
    git(image_repo, "checkout", "--quiet", "feature")
    done = run_cli("report", "--cwd", str(image_repo), "--base", "main", "--no-cache")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r"preview 1 stacks vs [0-9a-f]{12}: 1 head, 1 base, 0 base cached \(\d+\.\ds\)", lines[0]
    )
    assert re.fullmatch(r"compare: changes, policies, cost, diagrams \(\d+\.\ds\)", lines[1])
    assert "\n**1 stack: 8 to create" in done.stdout


def test_bad_base_is_one_line_and_exit_2(image_repo: Path) -> None:
    done = _report(image_repo, "feature", "--base", "no-such-branch")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tierstack: error: unknown base 'no-such-branch': pass --base with a branch or commit"
    ]
    done = run_cli("report", "--cwd", str(image_repo))  # no origin/main in this repository
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no origin/main in this repository" in done.stderr


SECRET_PROGRAM = """
import pulumi
import pulumi_aws as aws

config = pulumi.Config()
aws.rds.Instance(
    "db",
    engine="postgres",
    instance_class="db.t4g.small",
    allocated_storage=20,
    username="app",
    password=config.require_secret("dbPassword"),
    tags={"token": pulumi.Output.secret(config.get("token") or "none")},
)
"""


def test_secret_inputs_never_appear(tmp_path: Path) -> None:
    repo = tmp_path / "secret-repo"
    write(repo / "Pulumi.yaml", "name: demo\nruntime: python\n")
    write(repo / "__main__.py", SECRET_PROGRAM)
    stack_file = repo / "Pulumi.dev.yaml"
    write(stack_file, "config:\n  aws:region: eu-west-1\n  demo:dbPassword: hunter2-before\n")
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit(repo, "base")
    write(
        stack_file,
        "config:\n  aws:region: eu-west-1\n  demo:dbPassword: hunter2-after\n"
        "  demo:token: tok-5f1e-after\n",
    )
    for output in ("markdown", "json"):
        done = run_cli(
            "report", "--cwd", str(repo), "--base", "main", "--format", output, "--no-policy"
        )
        assert done.returncode == 0, done.stderr
        for secret in ("hunter2", "tok-5f1e"):
            assert secret not in done.stdout and secret not in done.stderr
    assert "  - `tags.token`: `[secret]` → `[secret]`" not in done.stdout  # equal: not shown
    markdown = run_cli("report", "--cwd", str(repo), "--base", "main", "--no-policy").stdout
    assert "**1 stack: 0 to create, 0 to update" in markdown


def test_sarif_locates_the_new_violation_at_the_program_line(image_repo: Path) -> None:
    sarif_file = image_repo.parent / "breaks.sarif"
    done = _report(image_repo, "breaks-policy", "--sarif", str(sarif_file))
    assert done.returncode == 1, done.stderr
    results = json.loads(sarif_file.read_text())["runs"][0]["results"]
    (hit,) = [r for r in results if r["ruleId"] == "aws-ec2-instance-type-allowed"]
    where = hit["locations"][0]["physicalLocation"]
    path, line = where["artifactLocation"]["uri"], where["region"]["startLine"]
    assert path == "stacks/aws/hosts.py"
    assert "aws.ec2.LaunchTemplate(" in (image_repo / path).read_text().splitlines()[line - 1]


CWD_PROGRAM = """
from pathlib import Path

import pulumi_aws as aws

# A relative path, as many programs read their own files: resolved against the program's
# directory, which is where Pulumi runs it.
aws.sqs.Queue("jobs", visibility_timeout_seconds=int(Path("timeout.txt").read_text()))
"""


def test_base_and_head_each_run_in_their_own_tree(tmp_path: Path) -> None:
    """Both trees are previewed by one process tree; each program still runs in its own
    directory, so a file it reads by a relative path is the one of its own commit."""
    repo = tmp_path / "cwd-repo"
    write(repo / "Pulumi.yaml", "name: demo\nruntime: python\n")
    write(repo / "__main__.py", CWD_PROGRAM)
    write(repo / "timeout.txt", "30\n")
    for stack in ("dev", "prod"):  # two stacks: the previews share one process tree
        write(repo / f"Pulumi.{stack}.yaml", "config:\n  aws:region: eu-west-1\n")
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit(repo, "base")
    write(repo / "timeout.txt", "90\n")
    done = run_cli(
        "report", "--cwd", str(repo), "--base", "main", "--all", "--format", "json", "--no-policy"
    )
    assert done.returncode == 0, done.stderr
    stacks = json.loads(done.stdout)["stacks"]
    assert [s["stack"] for s in stacks] == ["dev", "prod"]
    for stack in stacks:
        (queue,) = [r for r in stack["resources"] if r["name"] == "jobs"]
        assert queue["action"] == "update", stack["stack"]
        (change,) = queue["changes"]
        assert change["path"] == "visibilityTimeoutSeconds"
        assert (change["old"], change["new"]) == ("30", "90")
