"""The app through its HTTP interface (Flask's test client on the real app factory) and the job
runner's handling of each message, on the embedded backends (SQLite queue and table, file
store); SMTP notifications go to a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from mr_helpers import MailCapture, free_port, pipe

from reference_apps.mapreduce import build_service, create_app, load_settings, worker
from reference_apps.mapreduce.engines import LocalEngine
from reference_apps.mapreduce.service import JobService, digest

NEVER_ENDS = b"import time\nwhile True:\n    time.sleep(1)\n"
IDENTITY_REDUCER = b"import sys\nsys.stdout.write(sys.stdin.read())\n"


@pytest.fixture
def smtp() -> Iterator[tuple[int, MailCapture]]:
    port = free_port()
    capture = MailCapture()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, capture
    finally:
        controller.stop()


@pytest.fixture
def env(tmp_path: Path, smtp: tuple[int, MailCapture]) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path),
        "MAIL_URL": f"smtp://127.0.0.1:{smtp[0]}",
        "MAIL_FROM": "jobs@tierstack.test",
        "PUBLIC_URL": "https://mapreduce.example",
        "QUEUE_VISIBILITY_TIMEOUT": "30",
        "JOB_TIME_LIMIT": "3",
        "ALLOW_CUSTOM_PROGRAMS": "true",
        "MAX_UPLOAD_MB": "1",
    }


@pytest.fixture
def client(env: dict[str, str]) -> FlaskClient:
    return create_app(env).test_client()


@pytest.fixture
def runner(env: dict[str, str]) -> JobService:
    """The worker tier's service (with the mailer), sharing the app's backends."""
    return build_service(load_settings(env, web=False), mail=True)


def submit(client: FlaskClient, files: dict[str, bytes], job: str = "inverted-index", **form: Any):
    data: dict[str, Any] = {"job": job, **form}
    data["input"] = [(io.BytesIO(body), name) for name, body in files.items()]
    headers = {}
    if "idempotency_key" in form:
        headers["Idempotency-Key"] = data.pop("idempotency_key")
    return client.post("/api/v1/jobs", data=data, headers=headers)


def run_next(service: JobService) -> bool:
    message = service.queue.receive()
    assert message is not None, "no job request in the queue"
    return worker.handle(service, LocalEngine(2), message, threading.Event())


def stored(env: dict[str, str]) -> list[str]:
    root = Path(env["DATA_DIR"]) / "objects"
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_submit_run_download_and_the_mail_link(
    client: FlaskClient, runner: JobService, smtp: tuple[int, MailCapture]
) -> None:
    files = {"a.txt": b"The cloud, the fog\r\n", "b,c.txt": "Fog café".encode()}
    created = submit(client, files, email="ada@example.org")
    assert created.status_code == 202, created.json
    job = created.json
    assert (job["status"], created.headers["Location"]) == ("queued", job["url"])
    assert client.get(job["url"]).json["status"] == "queued"
    assert run_next(runner) is True
    done = client.get(job["url"]).json
    assert done["status"] == "succeeded" and done["error"] is None
    assert [part["name"] for part in done["results"]] == ["part-00000", "part-00001"]
    whole = client.get(done["result_url"]).data.decode()
    expected = pipe("inverted-index", {name: body for name, body in files.items()})
    assert sorted(whole.splitlines()) == sorted(expected.splitlines())
    parts = "".join(client.get(part["url"]).data.decode() for part in done["results"])
    assert parts == whole
    # The notification reached the SMTP server, with a link that downloads the same result.
    (sender, recipients, raw), *more = smtp[1].messages
    assert (sender, recipients, more) == ("jobs@tierstack.test", ["ada@example.org"], [])
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "MapReduce job inverted-index succeeded"
    link = re.search(
        r"https://mapreduce\.example(/download/\S+)", mail.get_payload(decode=True).decode()
    )
    assert link is not None
    token = link.group(1).rsplit("/", 1)[1]
    assert len(token) >= 40  # 32 random bytes
    downloaded = client.get(link.group(1))
    assert downloaded.status_code == 200 and downloaded.data.decode() == whole
    assert "attachment" in downloaded.headers["Content-Disposition"]
    assert client.get(link.group(1)[:-3] + "xyz").status_code == 404  # not guessable
    page = client.get(f"/jobs/{job['id']}").data.decode()
    assert "succeeded" in page and "part-00001" in page


def test_the_download_link_expires(
    client: FlaskClient, runner: JobService, env: dict[str, str]
) -> None:
    job = submit(client, {"a": b"x"}).json
    run_next(runner)
    token, expires = runner.new_link(job["id"])
    assert 71.9 * 3600 < expires - time.time() <= 72 * 3600  # DOWNLOAD_LINK_HOURS default
    assert client.get(f"/download/{token}").status_code == 200
    runner.kv.update(f"link:{digest(token)}", {"expires_at": time.time() - 1})  # 72 h later
    expired = client.get(f"/download/{token}", headers={"Accept": "application/json"})
    assert expired.status_code == 410
    assert expired.json == {
        "error": "this download link has expired; open the job page for a new one"
    }
    assert runner.kv.get(f"link:{token}") is None  # only the token's hash is stored


def test_word_count_and_lines_format(client: FlaskClient, runner: JobService) -> None:
    job = submit(
        client, {"d.tsv": b"x,1\tA a\ny\tB a\n"}, job="word-count", input_format="lines"
    ).json
    run_next(runner)
    result = client.get(client.get(job["url"]).json["result_url"]).data.decode()
    assert sorted(result.splitlines()) == ["a\t3", "b\t1"]  # the ids are not words


def test_a_failing_custom_program_fails_the_job_with_its_stderr_and_tells_the_user(
    client: FlaskClient, runner: JobService, smtp: tuple[int, MailCapture]
) -> None:
    mapper = b"import sys\nfor line in sys.stdin:\n    1 / 0\n"
    job = submit(
        client,
        {"a": b"text\n"},
        job="custom",
        email="ada@example.org",
        mapper=(io.BytesIO(mapper), "m.py"),
        reducer=(io.BytesIO(IDENTITY_REDUCER), "r.py"),
    ).json
    assert run_next(runner) is True  # acked: a deterministic failure is not retried
    failed = client.get(job["url"]).json
    assert failed["status"] == "failed"
    assert failed["error"] == "the mapper exited with status 1"
    assert failed["stderr_tail"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert failed["result_url"] is None and failed["results"] == []
    page = client.get(f"/jobs/{job['id']}").data.decode()
    assert "ZeroDivisionError" in page and "the mapper exited with status 1" in page
    mail = message_from_bytes(smtp[1].messages[0][2])
    assert mail["Subject"] == "MapReduce job custom failed"
    assert "the mapper exited with status 1" in mail.get_payload(decode=True).decode()
    assert runner.queue.receive() is None


def test_a_custom_program_that_never_ends_is_stopped_at_the_time_limit(
    client: FlaskClient, runner: JobService
) -> None:
    job = submit(
        client,
        {"a": b"text\n"},
        job="custom",
        mapper=(io.BytesIO(NEVER_ENDS), "m.py"),
        reducer=(io.BytesIO(IDENTITY_REDUCER), "r.py"),
    ).json
    started = time.monotonic()
    run_next(runner)
    assert time.monotonic() - started < 15  # JOB_TIME_LIMIT=3
    failed = client.get(job["url"]).json
    assert (failed["status"], failed["error"]) == (
        "failed",
        "the job exceeded its time limit and was stopped",
    )


@pytest.mark.parametrize(
    ("files", "form", "status", "message"),
    [
        ({"a": b""}, {}, 422, "the input is empty: every file is empty or blank"),
        ({"a": b" \r\n", "b": b""}, {}, 422, "the input is empty: every file is empty or blank"),
        (
            {"img.png": b"\x89PNG\r\n\x1a\n\0\0"},
            {},
            415,
            "img.png: looks binary (NUL bytes); upload UTF-8 text",
        ),
        (
            {"l1.txt": "café".encode("latin-1")},
            {},
            415,
            "l1.txt: not UTF-8 text (bad byte at offset 3); upload UTF-8 text",
        ),
        (
            {"a": b"x"},
            {"job": "grep"},
            400,
            "unknown job 'grep'; choose one of inverted-index, word-count or custom",
        ),
        ({"a": b"x"}, {"input_format": "xml"}, 400, "input format must be one of documents, lines"),
        (
            {"a": b"x"},
            {"email": "not an address"},
            400,
            "'not an address' is not an e-mail address",
        ),
        ({}, {}, 400, "upload at least one input file (field 'input')"),
        (
            {"a": b"x"},
            {
                "job": "custom",
                "mapper": (io.BytesIO(b"def broken(:\n"), "m.py"),
                "reducer": (io.BytesIO(b"pass"), "r.py"),
            },
            422,
            "the mapper does not compile: invalid syntax (line 1)",
        ),
        (
            {"a": b"x"},
            {"job": "custom"},
            400,
            "a custom job needs both a mapper and a reducer file",
        ),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message_and_stores_nothing(
    client: FlaskClient,
    env: dict[str, str],
    files: dict[str, bytes],
    form: dict[str, Any],
    status: int,
    message: str,
) -> None:
    form = {"job": "inverted-index", **form}
    response = submit(client, files, form.pop("job"), **form)
    assert (response.status_code, response.json) == (status, {"error": message})
    assert stored(env) == []
    assert build_service(load_settings(env)).queue.receive() is None


def test_custom_programs_are_off_unless_the_operator_allows_them(env: dict[str, str]) -> None:
    client = create_app({**env, "ALLOW_CUSTOM_PROGRAMS": "false"}).test_client()
    response = submit(
        client,
        {"a": b"x"},
        job="custom",
        mapper=(io.BytesIO(IDENTITY_REDUCER), "m.py"),
        reducer=(io.BytesIO(IDENTITY_REDUCER), "r.py"),
    )
    assert response.status_code == 403
    assert response.json["error"].startswith("custom programs are disabled here")
    assert client.get("/api/v1/programs").json["custom_programs"] is False
    assert 'value="custom"' not in client.get("/").data.decode()


def test_an_oversized_upload_is_refused_with_413(client: FlaskClient, env: dict[str, str]) -> None:
    response = submit(client, {"big.txt": b"word " * 300_000})  # 1.5 MB > MAX_UPLOAD_MB=1
    assert response.status_code == 413
    assert response.json == {"error": "request body exceeds the 1 MB limit (MAX_UPLOAD_MB)"}
    assert stored(env) == []


def test_a_duplicate_submission_returns_the_first_job(
    client: FlaskClient, env: dict[str, str]
) -> None:
    first = submit(client, {"a": b"x y"}, idempotency_key="order-7")
    again = submit(client, {"a": b"x y"}, idempotency_key="order-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/jobs").json["jobs"]) == 1
    other = submit(client, {"a": b"something else"}, idempotency_key="order-7")
    assert other.status_code == 409
    assert other.json == {
        "error": "this idempotency key was used for a different request; use a new key"
    }
    service = build_service(load_settings(env))
    assert service.queue.receive() is not None and service.queue.receive() is None  # one request


def test_the_form_submits_once_and_shows_errors_on_the_page(client: FlaskClient) -> None:
    page = client.get("/").data.decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "idempotency_key": key, "job": "word-count"}
    posted = [
        client.post("/", data={**form, "input": (io.BytesIO(b"a b"), "a.txt")}) for _ in range(2)
    ]
    assert [response.status_code for response in posted] == [303, 303]
    assert posted[0].headers["Location"] == posted[1].headers["Location"]  # a double click
    bad = client.post("/", data={**form, "idempotency_key": "", "input": (io.BytesIO(b"\0"), "x")})
    assert bad.status_code == 415 and "x: looks binary" in bad.data.decode()
    assert client.post("/", data={"job": "word-count"}).status_code == 400  # no CSRF token


def test_a_poison_message_goes_to_the_dead_letter_queue(env: dict[str, str]) -> None:
    service = build_service(
        load_settings({**env, "QUEUE_MAX_DELIVERIES": "2", "QUEUE_VISIBILITY_TIMEOUT": "0.1"}),
        mail=True,
    )
    service.queue.send_raw("{not json")
    service.queue.send({"job_id": "../../etc/passwd"})
    handled = []
    deadline = time.monotonic() + 10
    while len(service.queue.dead_letters()) < 2 and time.monotonic() < deadline:
        message = service.queue.receive(wait=0.5)
        if message is not None:
            handled.append(worker.handle(service, LocalEngine(1), message, threading.Event()))
    assert handled == [False] * 4  # two deliveries each, never acked, never run
    assert service.queue.dead_letters() == ["{not json", {"job_id": "../../etc/passwd"}]


def test_a_redelivered_request_for_a_finished_job_does_not_run_it_again(
    client: FlaskClient, runner: JobService, smtp: tuple[int, MailCapture]
) -> None:
    job = submit(client, {"a": b"x"}, email="ada@example.org").json
    run_next(runner)
    runner.queue.send({"job_id": job["id"]})
    assert run_next(runner) is True
    assert client.get(job["url"]).json["attempts"] == 1
    assert len(smtp[1].messages) == 1


def test_api_errors_and_documents(client: FlaskClient) -> None:
    assert client.get("/api/v1/jobs/" + "0" * 28).json == {"error": f"no job '{'0' * 28}'"}
    assert client.get("/api/v1/jobs/nope/result").status_code == 404
    assert client.get("/api/v1/jobs?limit=0").status_code == 400
    assert client.get("/download/short").status_code == 404
    spec = client.get("/openapi.json").json
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}/result", "/api/v1/programs"} <= set(
        spec["paths"]
    )
    assert client.get("/readyz").json["status"] == "ready"
    assert client.get("/favicon.ico").mimetype == "image/svg+xml"
    assert urlsplit(client.get("/").request.url).path == "/"
