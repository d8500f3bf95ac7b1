"""Inverted index on a Spark standalone cluster vs. the single pipe ``mapper | sort | reducer``.

Workload: a generated corpus (fixed seed) of ``doc_id<TAB>text`` lines in 8 MB files, words drawn
from a Zipf-like vocabulary with accented and apostrophe words; the blueprint's own inverted-index
mapper and reducer (``INPUT_FORMAT=lines``).
- pipe:  ``cat files | mapper | LC_ALL=C sort -t TAB -k1,1 -s | reducer`` (one mapper process,
         GNU sort may use both cores), MB/s
- spark: the job runner's SparkEngine (what ``python -m reference_apps.mapreduce.run
         inverted-index ... --engine spark://...`` uses) on a cluster started here (master + 1 or
         2 workers of 1 core each, 4 reduce tasks); the driver's start is printed apart, the
         figure is the job alone (the driver already running, as in the job runner), MB/s
- every spark output must equal the pipe's (sorted lines), or the run fails.
Sizes: MAPREDUCE_BENCH_MB (comma-separated, default "200"); the crossover is the smallest size at
which spark reaches the pipe's throughput.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reference_apps.mapreduce.cluster import SparkCluster  # noqa: E402
from reference_apps.mapreduce.engines import InputFile, SparkEngine  # noqa: E402
from reference_apps.mapreduce.programs import JOBS_DIR, built_in  # noqa: E402

SIZES = [int(size) for size in os.environ.get("MAPREDUCE_BENCH_MB", "200").split(",")]
FILE_BYTES = 8 * 1024 * 1024
JOB = JOBS_DIR / "inverted_index"


def corpus(folder: Path, megabytes: int) -> list[Path]:
    """Fixed-seed documents, one per line, written in 8 MB files."""
    rng = random.Random(12)
    stems = ["cloud", "fog", "edge", "café", "zürich", "naïve", "don't", "l'été", "data", "node"]
    vocabulary = [f"{rng.choice(stems)}{index}" for index in range(50_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    files, written, document = [], 0, 0
    target = megabytes * 1024 * 1024
    while written < target:
        lines = []
        size = 0
        while size < FILE_BYTES and written + size < target:
            words = rng.choices(vocabulary, weights, k=rng.randint(20, 200))
            line = f"doc-{document},{document % 7}\t{' '.join(words)}\n"
            document += 1
            lines.append(line)
            size += len(line.encode())
        path = folder / f"corpus-{len(files):04d}.tsv"
        path.write_text("".join(lines), encoding="utf-8")
        files.append(path)
        written += size
    return files


def run_pipe(files: list[Path], out: Path) -> float:
    env = {**os.environ, "LC_ALL": "C", "INPUT_FORMAT": "lines"}
    names = " ".join(f"'{path}'" for path in files)
    script = (
        f"cat {names} | {sys.executable} {JOB / 'mapper.py'}"
        f" | sort -t \"$(printf '\\t')\" -k1,1 -s -S 1G | {sys.executable} {JOB / 'reducer.py'}"
        f" > '{out}'"
    )
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], env=env, check=True)
    return time.perf_counter() - started


def run_spark(engine: SparkEngine, files: list[Path]) -> tuple[float, bytes]:
    inputs = [InputFile(path.name, path.read_bytes()) for path in files]
    started = time.perf_counter()
    parts = engine.run(built_in("inverted-index", "lines"), inputs, reducers=4, timeout=7200)
    return time.perf_counter() - started, b"".join(parts)


def main() -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    print(f"inverted index, corpus sizes (MB): {SIZES}")
    with tempfile.TemporaryDirectory(prefix="bench-mapreduce-") as folder:
        root = Path(folder)
        cluster = SparkCluster()
        try:
            results: dict[int, dict[str, float]] = {}
            for workers in (1, 2):
                while len(cluster.workers) < workers:
                    cluster.add_worker(cores=1)
                engine = SparkEngine(cluster.url)
                started = time.perf_counter()
                engine.check()
                # A tiny job first, so that the executors are up before the timed runs.
                warm_up = [InputFile("warm-up", b"warm up\n")]
                engine.run(built_in("word-count"), warm_up, reducers=1, timeout=1200)
                startup = time.perf_counter() - started
                print(f"spark driver and executors up ({workers} worker(s)): {startup:.1f} s")
                for megabytes in SIZES:
                    data = root / f"{megabytes}mb"
                    if not data.exists():
                        data.mkdir()
                        files = corpus(data, megabytes)
                        seconds = run_pipe(files, root / f"pipe-{megabytes}.txt")
                        results.setdefault(megabytes, {})["pipe"] = seconds
                    files = sorted(data.iterdir())
                    seconds, output = run_spark(engine, files)
                    expected = (root / f"pipe-{megabytes}.txt").read_bytes()
                    if sorted(output.splitlines()) != sorted(expected.splitlines()):
                        raise SystemExit(f"spark output differs from the pipe's at {megabytes} MB")
                    results[megabytes][f"spark{workers}"] = seconds
                engine.close()
            print("| corpus | pipe MB/s | spark, 1 worker: MB/s (x pipe) | spark, 2 workers |")
            print("|---|---|---|---|")
            crossover = None
            for megabytes, row in results.items():
                pipe = megabytes / row["pipe"]
                one, two = megabytes / row["spark1"], megabytes / row["spark2"]
                print(
                    f"| {megabytes} MB | {pipe:.2f} | {one:.2f} ({one / pipe:.2f}x)"
                    f" | {two:.2f} ({two / pipe:.2f}x) |"
                )
                if crossover is None and max(one, two) >= pipe:
                    crossover = megabytes
            print(f"crossover (spark >= pipe): {crossover or 'not reached'} MB; outputs identical")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
