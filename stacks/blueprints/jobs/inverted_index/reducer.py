#!/usr/bin/env python3
"""Hadoop streaming reducer for an inverted index: sorted "word<TAB>doc" lines in, one
"word<TAB>doc1,doc2,..." line per word out (documents sorted and unique)."""

import sys


def main() -> None:
    current: str | None = None
    docs: set[str] = set()
    for line in sys.stdin:
        word, _, doc = line.rstrip("\n").partition("\t")
        if word != current:
            if current is not None:
                sys.stdout.write(f"{current}\t{','.join(sorted(docs))}\n")
            current, docs = word, set()
        docs.add(doc)
    if current is not None:
        sys.stdout.write(f"{current}\t{','.join(sorted(docs))}\n")


if __name__ == "__main__":
    main()
