#!/usr/bin/env bash
# Runs every benchmark script; each prints its own figures. Record them in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); date: $(date -u +%F)"
for bench in bench/bench_*.py; do
    [ -e "$bench" ] || continue
    # The VM benchmark boots a KVM guest: only where the machine offers KVM.
    if [ "$bench" = bench/bench_lynis_vm.py ] && [ ! -w /dev/kvm ]; then
        echo "== $bench: skipped, no /dev/kvm"
        continue
    fi
    echo "== $bench"
    .venv/bin/python "$bench"
done
