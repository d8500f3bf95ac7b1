#!/usr/bin/env python3
"""Hadoop streaming reducer for an inverted index: sorted "word<TAB>doc" lines in, one
"word<TAB>doc1,doc2,..." line per word out, documents unique and sorted by their decoded id.

Ids arrive percent-encoded by the mapper and leave encoded (no comma or tab inside an id);
decode each with ``urllib.parse.unquote``. Standalone: the stacks upload it alone.
"""

import io
import sys
from urllib.parse import unquote


def flush(out: io.TextIOWrapper, word: str, docs: set[str]) -> None:
    out.write(f"{word}\t{','.join(sorted(docs, key=lambda doc: (unquote(doc), doc)))}\n")


def main() -> None:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    current: str | None = None
    docs: set[str] = set()
    for line in stdin:
        word, _, doc = line.rstrip("\r\n").partition("\t")
        if word != current:
            if current is not None:
                flush(stdout, current, docs)
            current, docs = word, set()
        docs.add(doc)
    if current is not None:
        flush(stdout, current, docs)
    stdout.flush()


if __name__ == "__main__":
    main()
