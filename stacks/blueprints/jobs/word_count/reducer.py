#!/usr/bin/env python3
"""Hadoop streaming reducer for a word count: sorted "word<TAB>count" lines in, one
"word<TAB>total" line per word out. Standalone: the stacks upload it alone."""

import io
import sys


def main() -> None:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    current: str | None = None
    total = 0
    for line in stdin:
        word, _, count = line.rstrip("\r\n").partition("\t")
        if word != current:
            if current is not None:
                stdout.write(f"{current}\t{total}\n")
            current, total = word, 0
        total += int(count or 1)
    if current is not None:
        stdout.write(f"{current}\t{total}\n")
    stdout.flush()


if __name__ == "__main__":
    main()
