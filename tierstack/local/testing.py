"""The session-wide local target for the role and end-to-end tests.

The session fixture `target` (tests/conftest.py, used by tests/roles and tests/e2e) calls
`acquire` and `release`, so one pytest run creates and converges the hosts once and removes them
at its end.
With TIERSTACK_LOCAL_TARGET=<name> (what `tierstack verify local` sets) the tests run against
that existing target and leave it in place.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from tierstack.local import podman
from tierstack.local.target import LocalTarget, TargetError, available_apps

TEST_TARGET = "tierstack-test"
TEST_SUBNET = "10.231.9.0/24"


@dataclass
class _Session:
    target: LocalTarget
    owned: bool


_session: _Session | None = None
_failure: Exception | None = None  # a failed bring-up is reported once, not retried per test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def acquire() -> LocalTarget:
    """The converged target of this test session (created on first use)."""
    global _session, _failure
    if _failure is not None:
        raise _failure
    if _session is None:
        existing = os.environ.get("TIERSTACK_LOCAL_TARGET")
        if existing:
            target = LocalTarget.load(existing)
            podman.require_podman()
            stopped = target.stopped_hosts()
            if stopped:
                raise TargetError(f"host {stopped[0]} of {existing} is not running")
            _session = _Session(target, owned=False)
        else:
            podman.require_podman()
            target = LocalTarget(
                name=TEST_TARGET,
                subnet=TEST_SUBNET,
                https_port=free_port(),
                http_port=free_port(),
                apps=available_apps(),
            )
            target.remove_hosts(purge=True)  # leftovers of an interrupted run
            try:
                target.create_hosts()
                target.converge()
                target.wait_until_serving()
                target.ca_certificate()
            except Exception as error:
                _failure = error
                if not os.environ.get("TIERSTACK_KEEP_HOSTS"):
                    target.remove_hosts(purge=True)
                raise
            _session = _Session(target, owned=True)
    return _session.target


def release() -> None:
    """Removes the target if this session created it (TIERSTACK_KEEP_HOSTS=1 keeps it)."""
    global _session
    if _session is None:
        return
    if _session.owned and not os.environ.get("TIERSTACK_KEEP_HOSTS"):
        _session.target.remove_hosts(purge=True)
    _session = None
