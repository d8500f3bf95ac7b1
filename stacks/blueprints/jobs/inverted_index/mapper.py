#!/usr/bin/env python3
"""Hadoop streaming mapper for an inverted index: emits "word<TAB>document" once per pair.

The document name comes from the streaming environment (mapreduce_map_input_file, set by Hadoop,
EMR and Dataproc), or from the first tab-separated field when lines are "doc<TAB>text".
"""

import os
import re
import sys

WORD = re.compile(r"[a-z0-9']+")


def main() -> None:
    # Hadoop names these variables in lower case.
    input_file = os.environ.get("mapreduce_map_input_file")  # noqa: SIM112
    input_file = input_file or os.environ.get("map_input_file")  # noqa: SIM112
    default_doc = os.path.basename(input_file) if input_file else "stdin"
    for line in sys.stdin:
        doc, text = default_doc, line
        if not input_file and "\t" in line:
            doc, text = line.split("\t", 1)
        for word in sorted(set(WORD.findall(text.lower()))):
            sys.stdout.write(f"{word}\t{doc}\n")


if __name__ == "__main__":
    main()
