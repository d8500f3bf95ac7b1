#!/usr/bin/env python3
"""Hadoop streaming mapper for a word count: emits "word<TAB>count" per distinct word of its split.

Counting inside the mapper (in-mapper combining) sends one line per word instead of one per
occurrence to the shuffle. With ``INPUT_FORMAT=lines`` ("doc<TAB>text") the ids are not counted.
Words are read exactly as the inverted index reads them: NFC-normalised, case-folded Unicode
letters and digits, apostrophes kept inside. Standalone: the stacks upload it.
"""

import io
import os
import re
import sys
import unicodedata
from collections import Counter

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\uff07": "'"})
FLUSH_AT = 500_000  # distinct words held before writing, to bound memory


def main() -> None:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    counts: Counter[str] = Counter()
    lines = os.environ.get("INPUT_FORMAT") == "lines"
    for line in stdin:
        if lines:
            line = line.partition("\t")[2] if "\t" in line else line
        folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", line).casefold())
        counts.update(WORD.findall(folded.translate(APOSTROPHES)))
        if len(counts) > FLUSH_AT:
            stdout.writelines(f"{word}\t{count}\n" for word, count in counts.items())
            counts.clear()
    stdout.writelines(f"{word}\t{count}\n" for word, count in sorted(counts.items()))
    stdout.flush()


if __name__ == "__main__":
    main()
