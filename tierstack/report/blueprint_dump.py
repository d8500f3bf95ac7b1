"""Prints every blueprint of the project tree in the working directory as JSON.

Run in a child process (`python -m tierstack.report.blueprint_dump`) with the tree's root as
its working directory: the base and head trees both define a `stacks` package, and each must
be imported from its own tree, never into the report's process.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path.cwd()))
    try:
        from stacks.blueprints import BLUEPRINTS  # the tree's own blueprints
    except ImportError as error:
        json.dump({"error": f"no blueprints in this project: {error}"}, sys.stdout)
        return 0
    json.dump({app: dataclasses.asdict(make()) for app, make in BLUEPRINTS.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
