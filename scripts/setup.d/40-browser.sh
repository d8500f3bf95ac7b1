#!/usr/bin/env bash
# Headless Chromium and its driver from Debian, for the pages' browser tests (tests/browser.py).
# Idempotent: installed packages cost one dpkg query.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install chromium chromium-driver fonts-dejavu-core
