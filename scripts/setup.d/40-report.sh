#!/usr/bin/env bash
# The pull-request report's tools: Graphviz renders `tierstack diagram --format svg`, and
# ShellCheck lets actionlint (from the Python lock) check the workflows' `run:` scripts too.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install graphviz shellcheck
