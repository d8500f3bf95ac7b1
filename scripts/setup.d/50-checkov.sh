#!/usr/bin/env bash
# Checkov, the Terraform scanner `make test` runs over the stacks' Terraform-plan export, in its
# own virtualenv (tools/checkov/venv): its dependencies clash with the project's. Installed
# exactly as tools/checkov/requirements.txt pins it (with hashes; regenerate with
# `uv pip compile --generate-hashes --python-version 3.11 requirements.in -o requirements.txt`).
# Skipped when the requirements have not changed since the last install. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

dir=tools/checkov
stamp="$dir/venv/.requirements.installed"
if [ -x "$dir/venv/bin/checkov" ] && cmp -s "$dir/requirements.txt" "$stamp"; then
    exit 0
fi
rm -rf "$dir/venv"
uv venv --quiet --python python3 "$dir/venv" || die "could not create $dir/venv"
uv pip install --quiet --python "$dir/venv/bin/python" --require-hashes -r "$dir/requirements.txt" \
    || die "installing Checkov from $dir/requirements.txt failed: is PyPI reachable?"
cp "$dir/requirements.txt" "$stamp"
