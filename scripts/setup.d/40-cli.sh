#!/usr/bin/env bash
# The CLI's shell completion is checked by the shells it targets: bash is always there, zsh
# parses the generated zsh script (`zsh -n`) in tests/tierstack/test_cli_usability.py.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install zsh
