"""The Spark program an HDInsight cluster runs for one job (a Livy batch): Hadoop-streaming
semantics over Spark with the same functions as the ``spark://`` engine (``streaming.py`` travels
with it as a py-file), reading and writing the cluster's file system.

    livy_driver.py --mapper URL --reducer URL --output URL/ --reducers N [--env K=V]... INPUT...

Each INPUT is a folder holding one input file (its name is the document id). The parts go to
``OUTPUT/part-NNNNN`` plus ``_SUCCESS``. A failing mapper or reducer is deterministic, so it is not
retried: the driver writes ``OUTPUT/_FAILED`` (JSON: reason, stderr tail), which the job runner
reads, and exits 1 (the batch ends ``dead``).

Runs with the cluster's Python: the standard library, pyspark and ``streaming`` only.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

try:  # on the cluster: streaming.py is a py-file next to this program
    import streaming
except ImportError:  # imported from this repository
    from .. import streaming

SPLIT_BYTES = 8 * 1024 * 1024


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="livy_driver.py")
    parser.add_argument("--mapper", required=True)
    parser.add_argument("--reducer", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--reducers", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("inputs", nargs="+")
    return parser.parse_args(argv)


def read(sc: Any, url: str) -> bytes:
    ((_, data),) = sc.binaryFiles(url).collect()
    return bytes(data)


def write(sc: Any, url: str, data: bytes) -> None:
    """Through Hadoop's file system, so abfs:// (the cluster's store) and file:// both work."""
    path = sc._jvm.org.apache.hadoop.fs.Path(url)
    stream = path.getFileSystem(sc._jsc.hadoopConfiguration()).create(path, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def run(sc: Any, args: argparse.Namespace) -> int:
    env = dict(item.split("=", 1) for item in args.env)
    mapper, reducer = read(sc, args.mapper), read(sc, args.reducer)
    output = args.output.rstrip("/") + "/"

    def splits(record: tuple[str, bytes]) -> list[tuple[str, bytes]]:
        name = record[0].rstrip("/").rpartition("/")[2]
        return [(name, piece) for piece in streaming.splits(bytes(record[1]), SPLIT_BYTES)]

    results = (
        sc.binaryFiles(",".join(args.inputs))
        .flatMap(splits)
        .flatMap(streaming.spark_map(mapper, env, args.reducers, args.timeout))
        .partitionBy(args.reducers, lambda key: max(key, 0))
        .mapPartitionsWithIndex(streaming.spark_reduce(reducer, env, args.timeout))
        .collect()
    )
    failures = [value for index, value in results if index == streaming.FAILED]
    if failures:
        reason, stderr = failures[0]
        write(sc, output + "_FAILED", json.dumps({"reason": reason, "stderr": stderr}).encode())
        print(f"mapreduce job failed: {reason}\n{stderr}", file=sys.stderr)
        return 1
    outputs = dict(results)
    for index in range(args.reducers):
        write(sc, f"{output}part-{index:05d}", outputs.get(index, b""))
    write(sc, output + "_SUCCESS", b"")
    return 0


def main(argv: list[str] | None = None) -> int:
    from pyspark import SparkContext

    args = parse(sys.argv[1:] if argv is None else argv)
    sc = SparkContext.getOrCreate()
    try:
        return run(sc, args)
    finally:
        sc.stop()


if __name__ == "__main__":
    sys.exit(main())
