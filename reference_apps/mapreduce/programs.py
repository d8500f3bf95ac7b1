"""The built-in jobs: the very mapper and reducer files the stacks upload to EMR, Dataproc and
HDInsight (``stacks/blueprints/jobs/``), so every engine runs the same programs."""

from __future__ import annotations

from pathlib import Path

from .engines import Program

JOBS_DIR = Path(__file__).resolve().parents[2] / "stacks" / "blueprints" / "jobs"
BUILT_IN = {
    "inverted-index": "term -> sorted, unique list of the documents that contain it",
    "word-count": "term -> number of occurrences",
}
INPUT_FORMATS = {
    "documents": "one document per file (the file name is the document id)",
    "lines": "one document per line: doc_id<TAB>text",
}
MAX_PROGRAM_BYTES = 256 * 1024


class ProgramError(ValueError):
    """A job name or an uploaded program that cannot be run; the message says why."""


def built_in(job: str, input_format: str = "documents") -> Program:
    """The program of a built-in job, reading its input in ``input_format``."""
    if job not in BUILT_IN:
        raise ProgramError(f"unknown job {job[:60]!r}; choose one of {', '.join(BUILT_IN)}")
    if input_format not in INPUT_FORMATS:
        raise ProgramError(f"input format must be one of {', '.join(INPUT_FORMATS)}")
    folder = JOBS_DIR / job.replace("-", "_")
    return Program.from_files(
        folder / "mapper.py", folder / "reducer.py", {"INPUT_FORMAT": input_format}, job
    )


def check_source(role: str, source: bytes) -> bytes:
    """An uploaded mapper or reducer: UTF-8 Python that compiles (it is not run here)."""
    if not source.strip():
        raise ProgramError(f"the {role} is empty")
    if len(source) > MAX_PROGRAM_BYTES:
        raise ProgramError(f"the {role} is larger than {MAX_PROGRAM_BYTES // 1024} KiB")
    try:
        compile(source.decode("utf-8"), f"{role}.py", "exec", dont_inherit=True)
    except UnicodeDecodeError:
        raise ProgramError(f"the {role} is not UTF-8 text") from None
    except SyntaxError as error:
        raise ProgramError(
            f"the {role} does not compile: {error.msg} (line {error.lineno})"
        ) from None
    return source
