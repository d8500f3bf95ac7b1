"""The streaming programs on real text, the local engine against the reference pipe
(``mapper | sort | reducer``), and the command-line runner through its entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mr_helpers import pipe, sorted_lines

from reference_apps.mapreduce.engines import InputFile, JobFailed, LocalEngine, Program
from reference_apps.mapreduce.programs import built_in


def index_of(output: str) -> dict[str, list[str]]:
    """term -> decoded document ids, as a consumer of the inverted index reads it."""
    result = {}
    for line in output.splitlines():
        term, _, docs = line.partition("\t")
        result[term] = [unquote(doc) for doc in docs.split(",")]
    return result


def test_unicode_words_are_nfc_normalised_and_case_folded() -> None:
    decomposed = "Cafe\u0301 ZU\u0308RICH"  # combining accents, as some editors save them
    output = index_of(pipe("inverted-index", {"a.txt": decomposed, "b.txt": "café Zürich naïve"}))
    assert output == {
        "café": ["a.txt", "b.txt"],
        "zürich": ["a.txt", "b.txt"],
        "naïve": ["b.txt"],
    }


def test_apostrophes_stay_inside_words_and_quotes_do_not() -> None:
    text = "Don\u2019t say 'hello' to l'été; rock'n'roll ''"
    assert list(index_of(pipe("inverted-index", {"a": text}))) == sorted(
        ["don't", "say", "hello", "to", "l'été", "rock'n'roll"]
    )


def test_crlf_line_ends_and_empty_documents() -> None:
    output = pipe("inverted-index", {"win.txt": "one\r\ntwo\r\n", "empty.txt": "", "blank": "\r\n"})
    assert output == "one\twin.txt\ntwo\twin.txt\n"  # no "\r" in a term, no empty document


def test_a_very_long_line_is_indexed() -> None:
    line = " ".join(f"w{number}" for number in range(200_000))  # about 1.5 MB, no newline
    output = index_of(pipe("inverted-index", {"long.txt": line}))
    assert len(output) == 200_000 and output["w199999"] == ["long.txt"]


def test_ids_with_commas_tabs_and_percent_signs_cannot_corrupt_the_output() -> None:
    lines = "a,b\tcloud fog\nx%2Cy\tcloud\nplain\tfog\n"
    output = pipe("inverted-index", {"docs.tsv": lines}, input_format="lines")
    assert all(line.count("\t") == 1 for line in output.splitlines())
    assert index_of(output) == {"cloud": ["a,b", "x%2Cy"], "fog": ["a,b", "plain"]}
    tabbed = pipe("inverted-index", {"tab\there,too.txt": "edge"})
    assert index_of(tabbed) == {"edge": ["tab\there,too.txt"]}


def test_word_count_counts_every_occurrence_across_files() -> None:
    output = pipe("word-count", {"a": "The cat. THE end!\r\n", "b": "the Straße strasse"})
    assert dict(line.split("\t") for line in output.splitlines()) == {
        "the": "3",
        "cat": "1",
        "end": "1",
        "strasse": "2",  # case folding maps ß to ss
    }


def run_local(job: str, files: dict[str, str], reducers: int, split_bytes: int) -> str:
    engine = LocalEngine(parallelism=2, split_bytes=split_bytes)
    inputs = [InputFile(name, text.encode()) for name, text in files.items()]
    parts = engine.run(built_in(job), inputs, reducers=reducers, timeout=60)
    assert len(parts) == reducers
    for part in parts:  # Hadoop's contract: every part is sorted by key
        keys = [line.split("\t")[0].encode() for line in part.decode().splitlines()]
        assert keys == sorted(keys)
    return "".join(part.decode() for part in parts)


WORDS = st.sampled_from(["cloud", "Cloud", "fog", "café", "CAFÉ", "don't", "Zürich", "1", "é"])
TEXT = st.lists(st.one_of(WORDS, st.sampled_from([" ", "\n", "\r\n", ", ", "'"])), max_size=40)
FILES = st.dictionaries(
    st.text("abc,%\t", min_size=1, max_size=4), TEXT.map("".join), min_size=1, max_size=4
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES, reducers=st.integers(1, 3), split_bytes=st.integers(1, 64))
@pytest.mark.parametrize("job", ["inverted-index", "word-count"])
def test_local_engine_equals_the_pipe(
    job: str, files: dict[str, str], reducers: int, split_bytes: int
) -> None:
    """Any number of splits (down to one line each) and reducers gives the pipe's lines."""
    assert sorted_lines(run_local(job, files, reducers, split_bytes)) == sorted_lines(
        pipe(job, files)
    )


def test_a_failing_mapper_reports_its_status_and_stderr_tail() -> None:
    program = Program(b"import sys\nprint('bad', file=sys.stderr)\nsys.exit(3)\n", b"")
    with pytest.raises(JobFailed) as failure:
        LocalEngine().run(program, [InputFile("a", b"x\n")], reducers=1, timeout=30)
    assert failure.value.reason == "the mapper exited with status 3"
    assert failure.value.stderr.strip() == "bad"


def test_a_program_that_never_ends_is_stopped_at_the_time_limit() -> None:
    program = Program(b"import time\nwhile True:\n    time.sleep(1)\n", b"")
    with pytest.raises(JobFailed, match="time limit"):
        LocalEngine().run(program, [InputFile("a", b"x\n")], reducers=1, timeout=1.5)


# -- the command-line runner ------------------------------------------------------------------

RUN = [sys.executable, "-m", "reference_apps.mapreduce.run"]


def test_cli_writes_part_files_equal_to_the_pipe(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The cloud and the fog\n")
    (tmp_path / "b,c.txt").write_text("Fog, café\n")
    done = subprocess.run(
        [*RUN, "inverted-index", "a.txt", "b,c.txt", "-o", "out", "--reducers", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert sorted(path.name for path in out.iterdir()) == [
        "_SUCCESS",
        "part-00000",
        "part-00001",
        "part-00002",
    ]
    joined = "".join((out / f"part-0000{index}").read_text() for index in range(3))
    expected = pipe(
        "inverted-index", {"a.txt": "The cloud and the fog\n", "b,c.txt": "Fog, café\n"}
    )
    assert sorted_lines(joined) == sorted_lines(expected)
    assert index_of(expected)["fog"] == ["a.txt", "b,c.txt"]


def test_cli_runs_custom_programs_and_reports_their_failure(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("x y\n")
    (tmp_path / "m.py").write_text(
        "import sys\nfor l in sys.stdin:\n    print(l.strip() + '\\t1')\n"
    )
    (tmp_path / "r.py").write_text("raise ValueError('reducer is broken')\n")
    done = subprocess.run(
        [*RUN, "--mapper", "m.py", "--reducer", "r.py", "in.txt", "-o", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "job failed: the reducer exited with status 1"
    assert "ValueError: reducer is broken" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grep", "in.txt", "-o", "out"], "unknown job 'grep'"),
        (["--mapper", "m.py", "in.txt", "-o", "out"], "give both --mapper and --reducer"),
        (["word-count", "missing.txt", "-o", "out"], "No such file or directory"),
        (["word-count", "in.txt", "-o", "full"], "exists and is not empty"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "in.txt").write_text("x\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("mine")
    done = subprocess.run([*RUN, *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert (tmp_path / "full" / "keep").read_text() == "mine"


def test_spark_conf_pins_the_drivers_settings_and_refuses_what_is_not_spark_conf() -> None:
    from reference_apps.backends import ConfigError
    from reference_apps.mapreduce.engines import open_engine, spark_conf

    engine = open_engine(
        "spark://10.0.0.14:7077",
        {"SPARK_CONF": " spark.driver.port=7079 ; spark.port.maxRetries=0;"},
    )
    assert engine.conf == {"spark.driver.port": "7079", "spark.port.maxRetries": "0"}  # type: ignore[attr-defined]
    assert spark_conf("") == {}
    for bad in ("driver.port=7079", "spark.driver.port", "spark.driver.port="):
        with pytest.raises(ConfigError, match="SPARK_CONF"):
            spark_conf(bad)
