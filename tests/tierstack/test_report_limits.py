"""A change to every stack at once: the comment stays under GitHub's 65,536-character limit,
keeps every stack's summary line, and says what it cut and where the full report is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tierstack
from tierstack.preview.project import list_stacks, load_project

from .conftest import run_cli
from .report_repos import branch, commit, edit, git, project_copy

LIMIT = 65_536
STACKS = list_stacks(load_project(tierstack.REPO_ROOT))


def retag(repo: Path) -> None:
    """A governance tag added to every taggable resource of every stack."""
    edit(
        repo / "stacks/blueprints/settings.py",
        '            "project": "tierstack",\n',
        '            "project": "tierstack",\n            "team": "platform-engineering",\n',
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    assert len(STACKS) == 15
    root = tmp_path_factory.mktemp("report-all")
    repo = project_copy(root / "repo", STACKS)
    commit(repo, "base")
    branch(repo, "retag", retag)
    git(repo, "checkout", "--quiet", "retag")
    cut, full = root / "comment.md", root / "full.md"
    done = run_cli(
        "report", "--cwd", str(repo), "--base", "main", "--output", str(cut),
        "--full-output", str(full), "--full-report", "https://ci.example/run/42",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cut.read_text(encoding="utf-8"), full.read_text(encoding="utf-8")


def _details(text: str) -> dict[str, str]:
    blocks = re.findall(r"<details>\n<summary><b>([\w-]+)</b>.*?</details>", text, re.S)
    bodies = re.findall(r"(<details>\n<summary><b>[\w-]+</b>.*?</details>)", text, re.S)
    return dict(zip(blocks, bodies, strict=True))


@pytest.mark.slow
def test_every_stack_changed_stays_under_the_comment_limit_cutting_largest_first(
    reports: tuple[str, str],
) -> None:
    cut, full = reports
    assert len(full) > LIMIT, "the uncut report must need cutting, or nothing is tested"
    assert len(cut.encode("utf-8")) <= LIMIT  # bytes: at least as strict as characters
    summary = next(line for line in full.splitlines() if line.startswith("**15 stacks:"))
    assert summary in cut.splitlines()[:5]
    assert " 0 to create, " in summary and ", 0 to delete," in summary
    updates = int(re.search(r"(\d+) to update", summary).group(1))
    assert updates > 15 * 20
    for stack in STACKS:
        rows = [line for line in cut.splitlines() if line.startswith(f"| `{stack}` |")]
        assert len(rows) == 1, stack
        assert rows[0] in full
        assert f"<summary><b>{stack}</b>:" in cut
    # The largest stacks' details are cut first, each saying where the rest is. (One test:
    # test processes each build their own module fixtures, and this one previews 30 stacks.)
    cut_details, full_details = _details(cut), _details(full)
    assert set(cut_details) == set(full_details) == set(STACKS)
    trimmed = {s for s, body in cut_details.items() if "✂️ Details cut" in body}
    kept = set(STACKS) - trimmed
    assert trimmed and kept, "some stacks cut, the others whole"
    for stack in trimmed:
        assert "see https://ci.example/run/42" in cut_details[stack]
    for stack in kept:
        assert cut_details[stack] == full_details[stack]
    smallest_cut = min(len(full_details[s]) for s in trimmed)
    largest_kept = max(len(full_details[s]) for s in kept)
    assert smallest_cut >= largest_kept
    assert "  - `tags.team`: `(none)` → `platform-engineering`" in full
