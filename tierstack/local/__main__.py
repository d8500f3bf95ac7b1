"""`python -m tierstack.local up|verify|down local` without the main CLI."""

import argparse
import sys

from tierstack.local.cli import register


def main() -> int:
    parser = argparse.ArgumentParser(prog="tierstack")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
