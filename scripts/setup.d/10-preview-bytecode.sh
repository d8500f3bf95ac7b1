#!/usr/bin/env bash
# Byte-compiles the Pulumi SDK and provider packages in .venv. `uv sync` installs them without
# .pyc files, and the provider modules are huge (pulumi_aws.ec2 alone takes ~4 s to compile):
# without this, every `tierstack preview` child process recompiles them from source.
# Idempotent: compileall skips modules whose .pyc is up to date.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
    || die "no .venv: run uv sync first"
# The SDK, every provider, and what a preview child process imports besides (measured).
packages=()
for name in pulumi pulumi_* grpc google/protobuf opentelemetry jsonschema \
    jsonschema_specifications referencing rpds attr attrs yaml semver dill idna packaging \
    psutil jsonpointer.py rfc3339_validator.py six.py typing_extensions.py; do
    for path in "$site"/$name; do
        [ -e "$path" ] && [[ "$path" != *.dist-info ]] && packages+=("$path")
    done
done
[ "${#packages[@]}" -gt 0 ] || die "no Pulumi packages in $site: run uv sync first"
.venv/bin/python -m compileall -q -j 0 "${packages[@]}" >/dev/null \
    || die "byte-compiling the Pulumi packages failed"
