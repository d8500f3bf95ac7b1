"""The local target's private files (secrets.json, inventories): mode 0600 whatever was there,
and never written through a symbolic link."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tierstack.local.target import TargetError, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    write_private(path, '{"db": "pw"}')
    assert (mode(path), path.read_text()) == (0o600, '{"db": "pw"}')


def test_an_existing_readable_file_is_narrowed_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("an older and much longer content than the new one")
    path.chmod(0o644)
    write_private(path, "{}")
    assert (mode(path), path.read_text()) == (0o600, "{}")


def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me")
    elsewhere.chmod(0o644)
    link = tmp_path / "secrets.json"
    link.symlink_to(elsewhere)
    with pytest.raises(TargetError, match="is a symbolic link"):
        write_private(link, '{"db": "pw"}')
    assert (elsewhere.read_text(), mode(elsewhere)) == ("keep me", 0o644)
