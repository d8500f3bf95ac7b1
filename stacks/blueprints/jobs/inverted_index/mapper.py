#!/usr/bin/env python3
"""Hadoop streaming mapper for an inverted index: emits "word<TAB>document" once per pair.

The document is the input file's name (``mapreduce_map_input_file``, set by Hadoop, EMR and
Dataproc) or, for "doc<TAB>text" lines, the first field: ``INPUT_FORMAT=lines`` forces that
reading, ``documents`` forces the file name; by default lines are split only without a file name.
Words are NFC-normalised and case-folded Unicode letters and digits, apostrophes kept inside
("don't", "l'été"). Document ids are percent-encoded (``%``, ``,``, TAB, CR, LF), so an id with a
comma or a tab cannot corrupt the reducer's comma-separated list. This file must stay standalone:
the stacks upload it alone to the cluster.
"""

import io
import os
import re
import sys
import unicodedata

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\uff07": "'"})
UNSAFE_ID = re.compile(r"[%,\t\r\n]")
SEEN_LIMIT = 1_000_000  # words remembered per document; the reducer removes any repeat


def words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return set(WORD.findall(folded.translate(APOSTROPHES)))


def encode_id(doc: str) -> str:
    return UNSAFE_ID.sub(lambda match: f"%{ord(match.group()):02X}", doc.strip("\r\n"))


def main() -> None:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    # Hadoop names these variables in lower case.
    input_file = os.environ.get("mapreduce_map_input_file")  # noqa: SIM112
    input_file = input_file or os.environ.get("map_input_file")  # noqa: SIM112
    mode = os.environ.get("INPUT_FORMAT", "auto")
    split_lines = mode == "lines" or (mode == "auto" and not input_file)
    default_doc = encode_id(os.path.basename(input_file)) if input_file else "stdin"
    current, seen = default_doc, set()
    for line in stdin:
        doc, text = default_doc, line
        if split_lines and "\t" in line:
            raw_doc, text = line.split("\t", 1)
            doc = encode_id(raw_doc)
        if doc != current or len(seen) > SEEN_LIMIT:
            current, seen = doc, set()
        found = words(text)
        for word in sorted(found - seen):
            stdout.write(f"{word}\t{doc}\n")
        seen |= found
    stdout.flush()


if __name__ == "__main__":
    main()
