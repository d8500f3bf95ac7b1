"""The stack tests' harness is the package's (tierstack/mocks/harness.py), shared with
`tierstack boot-script`: the program runs under the SDK's mocks with preview=False, so every
`.apply` runs and tests assert on resolved values."""

from tierstack.mocks.harness import (
    REPO_ROOT,
    STACK_CONFIG_DIR,
    Registered,
    Run,
    UnknownInvoke,
    inventory,
    run_pulumi,
    run_stack,
    stack_config,
    stack_names,
)

__all__ = [
    "REPO_ROOT",
    "STACK_CONFIG_DIR",
    "Registered",
    "Run",
    "UnknownInvoke",
    "inventory",
    "run_pulumi",
    "run_stack",
    "stack_config",
    "stack_names",
]
