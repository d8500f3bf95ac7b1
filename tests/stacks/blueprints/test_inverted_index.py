"""The streaming job runs for real the way EMR and Dataproc run it: mapper | sort | reducer."""

import os
import subprocess
import sys
from pathlib import Path

JOB = Path(__file__).resolve().parents[3] / "stacks" / "blueprints" / "jobs" / "inverted_index"


def stream(lines: str, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.endswith("input_file")}
    environment.update(env or {})
    mapped = subprocess.run(
        [sys.executable, str(JOB / "mapper.py")],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    ).stdout
    shuffled = "".join(sorted(mapped.splitlines(keepends=True)))
    return subprocess.run(
        [sys.executable, str(JOB / "reducer.py")],
        input=shuffled,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_index_maps_words_to_sorted_unique_documents() -> None:
    output = stream("b.txt\tThe cloud, the fog.\na.txt\tFog and cloud\nb.txt\tfog again\n")
    assert output.splitlines() == [
        "again\tb.txt",
        "and\ta.txt",
        "cloud\ta.txt,b.txt",
        "fog\ta.txt,b.txt",
        "the\tb.txt",
    ]


def test_document_name_comes_from_hadoop_input_file() -> None:
    output = stream("Edge nodes\n", {"mapreduce_map_input_file": "s3://bucket/input/doc7.txt"})
    assert output.splitlines() == ["edge\tdoc7.txt", "nodes\tdoc7.txt"]


def test_empty_input_gives_empty_output() -> None:
    assert stream("") == ""
