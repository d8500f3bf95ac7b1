"""Checkov over Terraform-plan exports, and the waiver file that explains what it still reports.

Checkov runs from its own environment (tools/checkov/venv, made by scripts/setup.d/50-checkov.sh):
its dependencies clash with the project's. Every failed check must be fixed in the components
or waived in policies/checkov-waivers.yaml with the resources it covers and the reason; a waiver
that no longer matches a finding is stale, so that the file cannot rot.

    python -m tierstack.preview.checkov --write-readme   # rewrite the policies README table
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

import tierstack

CHECKOV = tierstack.REPO_ROOT / "tools" / "checkov" / "venv" / "bin" / "checkov"
WAIVERS = tierstack.REPO_ROOT / "policies" / "checkov-waivers.yaml"
README = tierstack.REPO_ROOT / "policies" / "README.md"
BEGIN = "<!-- checkov-table:begin (python -m tierstack.preview.checkov --write-readme) -->"
END = "<!-- checkov-table:end -->"


class CheckovError(Exception):
    """Checkov is missing, failed, or the waiver file is malformed."""


@dataclass(frozen=True)
class Finding:
    check: str
    name: str
    stack: str  # the plan file's stem: the stack name
    address: str  # the Terraform address in the export, e.g. aws_s3_bucket.documents

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.address}"


@dataclass(frozen=True)
class Waiver:
    check: str
    resources: tuple[str, ...]  # fnmatch patterns over stack/address
    reason: str
    policy: str  # our policy that covers the same ground, or "" when none does

    def covers(self, finding: Finding) -> bool:
        return finding.check == self.check and any(
            fnmatch.fnmatchcase(finding.where, pattern) for pattern in self.resources
        )


def run_checkov(plan_dir: Path, checkov: Path = CHECKOV) -> list[Finding]:
    """Every failed check over the plans (*.json) in `plan_dir`, in one Checkov run. Offline:
    `--skip-download` keeps it from asking the vendor's API for guidelines."""
    if not checkov.is_file():
        raise CheckovError(
            f"{checkov} is missing: run `make setup` (scripts/setup.d/50-checkov.sh)"
        )
    command = [str(checkov), "-d", str(plan_dir), "--framework", "terraform_plan"]
    command += ["-o", "json", "--quiet", "--compact", "--skip-download", "--soft-fail"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        raise CheckovError(f"checkov exited {done.returncode} without a report:\n{tail}") from error
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        for failed in report.get("results", {}).get("failed_checks", []):
            stack = Path(failed["file_path"]).stem
            findings.append(
                Finding(failed["check_id"], failed["check_name"], stack, failed["resource"])
            )
    return sorted(findings, key=lambda f: (f.check, f.where))


def load_waivers(path: Path = WAIVERS) -> tuple[list[Waiver], list[dict[str, str]]]:
    """The waivers and the `fixed` entries (check, policy, fix) of the waiver file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    waivers = []
    for entry in data.get("waivers", []):
        missing = {"check", "resources", "reason"} - set(entry)
        if missing or not entry["resources"] or not str(entry["reason"]).strip():
            raise CheckovError(f"{path.name}: waiver {entry!r} needs check, resources and reason")
        waivers.append(
            Waiver(
                entry["check"],
                tuple(entry["resources"]),
                " ".join(str(entry["reason"]).split()),
                entry.get("policy", ""),
            )
        )
    return waivers, list(data.get("fixed", []))


def judge(
    findings: list[Finding], waivers: list[Waiver]
) -> tuple[list[Finding], list[tuple[Waiver, str]]]:
    """(findings no waiver explains, (waiver, pattern) pairs that match no finding: stale)."""
    unexplained = [f for f in findings if not any(w.covers(f) for w in waivers)]
    stale = [
        (waiver, pattern)
        for waiver in waivers
        for pattern in waiver.resources
        if not any(
            f.check == waiver.check and fnmatch.fnmatchcase(f.where, pattern) for f in findings
        )
    ]
    return unexplained, stale


def table(waivers: list[Waiver], fixed: list[dict[str, str]]) -> str:
    """The policies README table: Checkov check ↔ our policy ↔ fixed / waived (why)."""
    rows = ["| Checkov check | our policy | fixed / waived (why) |", "|---|---|---|"]
    entries = [(f["check"], f.get("policy", ""), f"fixed: {f['fix']}") for f in fixed]
    entries += [
        (w.check, w.policy, f"waived ({', '.join(f'`{r}`' for r in w.resources)}): {w.reason}")
        for w in waivers
    ]
    for check, policy, what in sorted(entries):
        ours = f"`{policy}`" if policy else "—"
        rows.append(f"| {check} | {ours} | {what} |")
    return "\n".join(rows)


def readme_with_table(text: str, waivers: list[Waiver], fixed: list[dict[str, str]]) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(waivers, fixed)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true", help="rewrite the README table")
    args = parser.parse_args(argv)
    waivers, fixed = load_waivers()
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text:
        print(f"{README} has no {BEGIN} marker", file=sys.stderr)
        return 1
    if args.write_readme:
        README.write_text(readme_with_table(text, waivers, fixed), encoding="utf-8")
    else:
        print(table(waivers, fixed))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["CheckovError", "Finding", "Waiver", "judge", "load_waivers", "run_checkov", "table"]
