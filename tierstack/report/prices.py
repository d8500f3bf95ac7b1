"""`make prices`: how old each line of the price table is, and how to refresh it.

List prices change a few times a year and each provider publishes them on its own page, in its
own shape; the table is small, so refreshing is a reviewed hand edit, not a scraper. This prints
the lines due for a check (older than --max-age days) with the page to check them against, and
exits 1 when the table is incomplete.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections import defaultdict

from tierstack.report.cost import PRICES, PriceTableError, load_table

STEPS = """To refresh a line: open its source page, pick the same region, on-demand Linux price,
and write the USD figure with today's date in tierstack/report/prices.yaml, with `checked:` set
to the page that states it (or `unverified:` and the reason when no page does). New instance sizes
need a new line (an unpriced resource in a report names the missing item and size). Then run
`.venv/bin/pytest tests/tierstack/test_cost.py -q` and review the diff of a sample report."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make prices", description=__doc__)
    parser.add_argument("--max-age", type=int, default=180, help="days before a line is due")
    args = parser.parse_args(argv)
    try:
        table = load_table()
    except PriceTableError as error:
        print(f"prices: {error}", file=sys.stderr)
        return 1
    today = datetime.date.today()
    due: dict[str, list[str]] = defaultdict(list)
    unverified: dict[str, list[str]] = defaultdict(list)
    for (cloud, region, item, size), entry in sorted(table.prices.items(), key=str):
        age = (today - datetime.date.fromisoformat(str(entry["date"]))).days
        if age > args.max_age:
            due[entry["source"]].append(f"{cloud} {region} {item} {size or ''} ({age} days)")
        if "unverified" in entry:
            what = f"{cloud} {region} {item} {size or ''}".rstrip()
            unverified[entry["source"]].append(f"{what}: {entry['unverified']}")
    dates = table.dates()
    where = PRICES.relative_to(PRICES.parents[2])
    print(f"{where}: {len(table.prices)} prices, checked {dates[0]} to {dates[-1]}")
    if not due:
        print(f"Every line was checked within {args.max_age} days.")
    for source, lines in due.items():
        print(f"Due: {source}")
        for line in lines:
            print(f"    {line}")
    count = sum(len(lines) for lines in unverified.values())
    if count:
        print(f"Unverified ({count} of {len(table.prices)}, labelled where used):")
    for source, lines in unverified.items():
        print(f"  check against {source}")
        for line in lines:
            print(f"    {line}")
    print()
    print(STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
