"""Pulumi entry point. The program lives in stacks.program so that tests import it too."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.program import main

main()
