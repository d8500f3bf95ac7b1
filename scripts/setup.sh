#!/usr/bin/env bash
# One entry point for all set-up: the Python environment from the lock file, then every
# scripts/setup.d/*.sh in order (system packages, emulators, test-host image). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

[ "$(id -u)" -eq 0 ] || die "run as root (set-up installs system packages)"
command -v python3 >/dev/null || die "python3 is missing: install Python 3.11"
command -v uv >/dev/null || python3 -m pip install --quiet --root-user-action=ignore "uv==0.13.9" \
    || die "could not install uv from PyPI"
uv sync --frozen --quiet --compile-bytecode || die "uv sync failed: is uv.lock in step with pyproject.toml? (uv lock)"

for script in scripts/setup.d/*.sh; do
    [ -e "$script" ] || continue
    bash "$script" || die "$script failed"
done
