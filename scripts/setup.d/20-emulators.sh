#!/usr/bin/env bash
# Real endpoints for the reference-app backend tests, all served on 127.0.0.1 by the tests:
#   - PostgreSQL 15 (queue, key-value and SQL backends; started by a fixture with initdb/pg_ctl)
#   - Azurite 3.35.0 (Blob, Queue, Table) from the npm lock in tools/azurite
#   - pstest, Google's Pub/Sub fake as a gRPC server, built from tools/pstest with Debian's Go
#   - mosquitto 2.0 (the IoT gateway's brokers; started per test with its own config)
# moto (S3, SQS, DynamoDB, SES) and the GCS emulator come from the Python lock. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install postgresql-15 golang-go golang-google-cloud-dev
apt_install mosquitto mosquitto-clients
# Node 20 normally comes with the machine (it bundles npm); Debian's own is the fallback.
command -v npm >/dev/null || apt_install nodejs npm

# Azurite: installed exactly as locked; skipped when the lock has not changed since the last install.
azurite_dir=tools/azurite
if [ ! -x "$azurite_dir/node_modules/.bin/azurite" ] \
    || ! cmp -s "$azurite_dir/package-lock.json" "$azurite_dir/node_modules/.package-lock.json.installed"; then
    (cd "$azurite_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
        || die "npm ci in $azurite_dir failed: is the npm registry reachable?"
    cp "$azurite_dir/package-lock.json" "$azurite_dir/node_modules/.package-lock.json.installed"
fi

# pstest: GOPATH mode against the Debian-packaged Go sources (no module proxy needed).
pstest_bin=tools/pstest/pstest
if [ ! -x "$pstest_bin" ] || [ tools/pstest/main.go -nt "$pstest_bin" ]; then
    (cd tools/pstest && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="${TMPDIR:-/tmp}/tierstack-gocache" \
        go build -o pstest main.go) || die "building tools/pstest failed: is golang-google-cloud-dev installed?"
fi
