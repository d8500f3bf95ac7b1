"""`tierstack down local` keeps the data volumes and the secrets that open them: hosts created
again and converged serve the same users and files."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tierstack.local import podman
from tierstack.local.podman import IMAGE
from tierstack.local.target import HOSTS

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]


def test_down_and_up_again_keeps_users_and_files(client: Any, target: Any) -> None:
    drive = client("cloud-drive")
    drive.session.headers["X-CSRFToken"] = drive.get("/api/v1/csrf").json()["csrf_token"]
    name = f"keep{int(time.time() * 1000) % 10**9}"
    password = "correct horse battery 9"
    account = {"username": name, "email": f"{name}@example.org", "password": password}
    assert drive.post("/api/v1/users", json=account).status_code == 201
    drive.session.headers["X-CSRFToken"] = drive.get("/api/v1/csrf").json()["csrf_token"]
    content = b"kept across a redeploy\n" * 50
    uploaded = drive.post("/api/v1/files", files={"file": ("kept.txt", content, "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]

    extra = target.container("extra")  # a host added beside the five (as tests do) goes too
    podman.run(["create", "--label", f"tierstack.target={target.name}", "--name", extra, IMAGE])
    target.remove_hosts()  # what `tierstack down local` does without --purge
    assert not podman.exists("container", extra)
    volumes = [target.volume(volume) for spec in HOSTS for volume in spec.volumes]
    assert volumes
    assert all(podman.exists("volume", volume) for volume in volumes)
    assert not any(podman.exists("container", target.container(spec.name)) for spec in HOSTS)

    target.create_hosts()  # what `tierstack up local` does next
    target.converge(log_name="redeploy.log")
    target.wait_until_serving()
    target.ca_certificate()  # the new lb generated a new self-signed certificate

    again = client("cloud-drive")
    again.session.headers["X-CSRFToken"] = again.get("/api/v1/csrf").json()["csrf_token"]
    login = again.post("/api/v1/session", json={"username": name, "password": password})
    assert login.status_code == 200, login.text
    again.session.headers["X-CSRFToken"] = again.get("/api/v1/csrf").json()["csrf_token"]
    downloaded = again.get(f"/api/v1/files/{file_id}/content")
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == content
