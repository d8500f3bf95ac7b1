"""mqtt_broker reads `password_ref` accounts the way a GCP VM does: the role's own tasks
(tasks/passwords.yml) and password template run on localhost against an in-process stand-in for
the GCP metadata server and Secret Manager's REST API (no emulator for either exists here). The
stand-in answers only what the real services answer to: the metadata token only with the
`Metadata-Flavor: Google` header, `versions/*:access` only with that token as a Bearer, 404 for an
unknown secret (cloud.google.com/compute/docs/metadata/querying-metadata;
cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tierstack.local.target import REPO

TOKEN = "ya29.stand-in-token"
SECRETS = {"projects/p/secrets/gw-a/versions/latest": "pw-a-from-secret-manager"}


class GoogleStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._answer(403, {"error": "Missing Metadata-Flavor:Google header"})
            return self._answer(200, {"access_token": TOKEN, "expires_in": 3599})
        if self.path.startswith("/v1/") and self.path.endswith(":access"):
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            name = self.path.removeprefix("/v1/").removesuffix(":access")
            if name not in SECRETS:
                return self._answer(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            data = base64.b64encode(SECRETS[name].encode()).decode()
            return self._answer(200, {"name": name, "payload": {"data": data}})
        self._answer(404, {"error": "unknown path"})

    def _answer(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def google() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GoogleStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def render_passwords(workdir: Path, metadata_url: str, secretmanager_url: str) -> tuple[str, str]:
    """Runs the role's password reads, then its password template, on localhost."""
    variables = {
        "mqtt_broker_gcp_metadata_url": metadata_url,
        "mqtt_broker_gcp_secretmanager_url": secretmanager_url,
        "mqtt_broker_devices": [
            {"name": "gw-a", "password_ref": "gcp-secretmanager://" + next(iter(SECRETS))},
            {
                "name": "gw-b",
                "password_ref": "gcp-secretmanager://projects/p/secrets/gone/versions/1",
            },
            {"name": "sensor-1", "password": "pw-plain"},
        ],
        "mqtt_broker_users": [{"name": "bridge", "password": "pw-bridge", "read": ["x/#"]}],
    }
    (workdir / "vars.json").write_text(json.dumps(variables))
    out = workdir / "passwords.src"
    playbook = workdir / "play.yml"
    playbook.write_text(
        "- name: Read the referenced passwords\n  hosts: localhost\n  gather_facts: false\n"
        "  tasks:\n"
        "    - name: The role's reads\n      ansible.builtin.include_role:\n"
        "        name: mqtt_broker\n        tasks_from: passwords.yml\n"
        "    - name: The role's template\n      ansible.builtin.template:\n"
        f"        src: {REPO}/roles/mqtt_broker/templates/passwords.src.j2\n"
        f"        dest: {out}\n        mode: '0600'\n"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"@{workdir / 'vars.json'}",
            str(playbook),
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "pw-a-from-secret-manager" not in result.stdout  # no_log on the reads
    assert TOKEN not in result.stdout
    unread = result.stdout.split("not readable yet: ", 1)[1].split("'", 1)[0]
    return unread, out.read_text()


def test_referenced_passwords_are_read_with_the_hosts_identity(google: str, tmp_path: Path) -> None:
    unread, passwords = render_passwords(tmp_path, google, google)
    assert passwords.splitlines() == [
        "gw-a:pw-a-from-secret-manager",
        "sensor-1:pw-plain",
        "bridge:pw-bridge",
    ]  # gw-b's secret does not exist: left out, named in the output, the run goes on
    assert unread == "gw-b"


def test_an_unreachable_identity_leaves_only_the_referenced_accounts_out(
    google: str, tmp_path: Path
) -> None:
    nowhere = "http://127.0.0.1:9"
    unread, passwords = render_passwords(tmp_path, nowhere, google)
    assert passwords.splitlines() == ["sensor-1:pw-plain", "bridge:pw-bridge"]
    assert unread == "gw-a, gw-b"
