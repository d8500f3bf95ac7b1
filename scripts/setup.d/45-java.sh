#!/usr/bin/env bash
# Java 17 from Debian for pyspark's Spark standalone cluster (the MapReduce engine tests and
# bench/bench_mapreduce.py). Idempotent: an installed package costs one dpkg query.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install openjdk-17-jre-headless
