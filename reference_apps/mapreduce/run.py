"""Run a streaming job from the command line, for people and CI:

    python -m reference_apps.mapreduce.run inverted-index docs/*.txt -o out/
    python -m reference_apps.mapreduce.run --mapper m.py --reducer r.py in.tsv -o out/ \
        --engine spark://127.0.0.1:7077

Output: ``part-NNNNN`` files and ``_SUCCESS`` in OUTDIR, written only when the job succeeds.
Exit status: 0 done, 1 the job failed (reason and the program's stderr tail on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..backends import ConfigError
from .engines import InputFile, JobFailed, Program, open_engine, write_parts
from .programs import BUILT_IN, INPUT_FORMATS, ProgramError, built_in, check_source


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reference_apps.mapreduce.run",
        description="Run a Hadoop-streaming job on the local engine or a Spark cluster.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="[JOB] INPUT", help=f"JOB: {', '.join(BUILT_IN)}"
    )
    parser.add_argument("-o", "--output", required=True, type=Path, help="folder for part-* files")
    parser.add_argument("--mapper", type=Path, help="your own mapper (Python)")
    parser.add_argument("--reducer", type=Path, help="your own reducer (Python)")
    parser.add_argument("--engine", default="local", help="local, local:N or spark://host:port")
    parser.add_argument("--input-format", choices=sorted(INPUT_FORMATS), default="documents")
    parser.add_argument("--reducers", type=int, default=2, help="number of part files (1-64)")
    parser.add_argument("--timeout", type=float, default=3600, help="time limit in seconds")
    args = parser.parse_args(argv)
    custom = args.mapper is not None or args.reducer is not None
    if custom and (args.mapper is None or args.reducer is None):
        parser.error("give both --mapper and --reducer")
    if not custom:
        args.job, args.inputs = args.inputs[0], args.inputs[1:]
        if args.job not in BUILT_IN:
            parser.error(f"unknown job {args.job!r}; choose one of {', '.join(BUILT_IN)}")
        if not args.inputs:
            parser.error("give at least one INPUT file")
    if not 1 <= args.reducers <= 64:
        parser.error("--reducers must be between 1 and 64")
    return args


def program_of(args: argparse.Namespace) -> Program:
    if args.mapper is None:
        return built_in(args.job, args.input_format)
    sources = [
        check_source(role, path.read_bytes())
        for role, path in (("mapper", args.mapper), ("reducer", args.reducer))
    ]
    return Program(sources[0], sources[1], {"INPUT_FORMAT": args.input_format})


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.output.exists() and any(args.output.iterdir()):
            raise ProgramError(f"output folder {args.output} exists and is not empty")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        program = program_of(args)
        inputs = [InputFile(Path(raw).name, Path(raw).read_bytes()) for raw in args.inputs]
        engine = open_engine(args.engine, dict(os.environ))
    except (OSError, ProgramError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        outputs = engine.run(program, inputs, reducers=args.reducers, timeout=args.timeout)
    except JobFailed as failure:
        print(f"job failed: {failure.reason}", file=sys.stderr)
        if failure.stderr:
            print(failure.stderr.rstrip(), file=sys.stderr)
        return 1
    finally:
        engine.close()
    staging = Path(tempfile.mkdtemp(prefix=f".{args.output.name}-", dir=args.output.parent))
    try:
        write_parts(outputs, staging)
        if args.output.exists():
            args.output.rmdir()
        staging.rename(args.output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"{len(outputs)} part files in {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
