"""End to end on real servers started here: the app under gunicorn and the job runner as
separate processes sharing PostgreSQL (queue and status table), an S3 bucket on the moto server
(inputs and outputs) and an SMTP server (aiosmtpd) that receives the notification."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aiosmtpd.controller import Controller
from mr_helpers import Deployment, MailCapture, free_port, pipe, wait_until

pytestmark = pytest.mark.slow

CORPUS = {
    "edge.txt": "Edge nodes buffer data.\r\nThe fog forwards it.\r\n",
    "cloud,notes.txt": "The cloud stores it; the café's Wi-Fi doesn't.\n",
    "zürich.txt": "ZÜRICH and Zurich are not the same word.\n",
}


@pytest.fixture(scope="module")
def backends(
    tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, moto_endpoint: str
) -> Iterator[tuple[dict[str, str], MailCapture]]:
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    table = f"mr_{os.urandom(5).hex()}"
    bucket = f"mapreduce-{table.replace('_', '-')}"
    s3(aws).create_bucket(Bucket=bucket)
    capture = MailCapture()
    smtp_port = free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        **aws,
        "APP_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "SESSION_COOKIE_SECURE": "false",
        "DATA_DIR": str(tmp_path_factory.mktemp("mapreduce-data")),
        "OBJECT_STORE_URL": f"s3://{bucket}/app",
        "QUEUE_URL": f"{postgres_dsn}?table={table}_q",
        "KV_URL": f"{postgres_dsn}?table={table}_kv",
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MAIL_FROM": "jobs@tierstack.test",
        "QUEUE_VISIBILITY_TIMEOUT": "120",
        "JOB_TIME_LIMIT": "60",
        "ALLOW_CUSTOM_PROGRAMS": "true",
        "MAPREDUCE_CLUSTER_URL": "local:2",
    }
    try:
        yield env, capture
    finally:
        controller.stop()


def s3(env: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, backends: tuple[dict[str, str], MailCapture]
) -> Iterator[Deployment]:
    """One gunicorn for the module (it starts in seconds on two shared cores)."""
    deployment = Deployment(backends[0], tmp_path_factory.mktemp("mapreduce-logs"))
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def deployment(deployed: Deployment) -> Iterator[Deployment]:
    """The shared app, with this test's workers stopped at its end."""
    try:
        yield deployed
    finally:
        deployed.stop_workers()
        deployed.workers.clear()


def post_job(session: requests.Session, url: str, files: dict[str, str], **form: str) -> dict:
    uploads = [("input", (name, text.encode())) for name, text in files.items()]
    response = session.post(f"{url}/api/v1/jobs", files=uploads, data=form, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def test_inverted_index_through_gunicorn_worker_and_mail(
    deployment: Deployment, backends: tuple[dict[str, str], MailCapture]
) -> None:
    session = requests.Session()
    deployment.start_worker()
    job = post_job(session, deployment.url, CORPUS, job="inverted-index", email="ada@example.org")
    done = deployment.wait_for_status(session, job["url"], {"succeeded", "failed"}, 60)
    assert done["status"] == "succeeded", done
    result = session.get(deployment.url + done["result_url"], timeout=5).text
    assert sorted(result.splitlines()) == sorted(pipe("inverted-index", CORPUS).splitlines())
    assert "zürich\tzürich.txt" in result.splitlines()
    assert "the\tcloud%2Cnotes.txt,edge.txt,zürich.txt" in result.splitlines()
    # The parts are in the bucket under the job's prefix.
    bucket, prefix = backends[0]["OBJECT_STORE_URL"].removeprefix("s3://").split("/", 1)
    keys = [
        item["Key"]
        for item in s3(backends[0]).list_objects_v2(
            Bucket=bucket, Prefix=f"{prefix}/jobs/{job['id']}/output/"
        )["Contents"]
    ]
    assert keys == [f"{prefix}/jobs/{job['id']}/output/part-0000{index}" for index in range(2)]
    # The mail reached the SMTP server; its link downloads the same result.
    mails = wait_until(lambda: backends[1].messages, 10, "the notification")
    mail = message_from_bytes(mails[0][2])
    link = re.search(
        r"(http://127\.0\.0\.1:\d+/download/\S+)", mail.get_payload(decode=True).decode()
    )
    assert link is not None
    assert requests.get(link.group(1), timeout=5).text == result


def test_sigterm_hands_the_running_job_back_and_another_worker_finishes_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    marker = tmp_path / "first-run"
    mapper = (
        "import os, sys, time\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    time.sleep(600)\n"
        "for line in sys.stdin:\n"
        "    for word in line.split():\n"
        "        print(word + '\\t1')\n"
    )
    reducer = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n"
    session = requests.Session()
    uploads = [
        ("input", ("in.txt", b"b a\n")),
        ("mapper", ("m.py", mapper.encode())),
        ("reducer", ("r.py", reducer.encode())),
    ]
    job = session.post(
        f"{deployment.url}/api/v1/jobs", files=uploads, data={"job": "custom"}, timeout=10
    ).json()
    first = deployment.start_worker()
    wait_until(marker.exists, 30, "the first run to start")
    assert session.get(deployment.url + job["url"], timeout=5).json()["status"] == "running"
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0  # stops at once, not after the 60 s time limit
    assert session.get(deployment.url + job["url"], timeout=5).json()["status"] == "queued"
    deployment.start_worker()
    done = deployment.wait_for_status(session, job["url"], {"succeeded", "failed"}, 60)
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    result = session.get(deployment.url + done["result_url"], timeout=5).text
    assert sorted(result.splitlines()) == ["a\t1", "b\t1"]
    assert '"job handed back to the queue"' in deployment.worker_log(first)


def test_a_poison_message_is_dead_lettered_by_the_running_worker(
    deployment: Deployment, backends: tuple[dict[str, str], MailCapture]
) -> None:
    from reference_apps.backends.queue import PostgresQueue

    dsn, _, table = backends[0]["QUEUE_URL"].partition("?table=")
    queue = PostgresQueue(dsn, table, max_deliveries=1, visibility_timeout=0.5)
    queue.send_raw("definitely not a job")
    deployment.start_worker(
        QUEUE_MAX_DELIVERIES="1", QUEUE_VISIBILITY_TIMEOUT="1", JOB_TIME_LIMIT="1"
    )
    assert wait_until(queue.dead_letters, 30, "the dead letter") == ["definitely not a job"]
    assert deployment.workers[0].poll() is None  # the worker keeps running


def test_zero_configuration_flask_run_and_worker(tmp_path: Path) -> None:
    """No settings at all (only HOME): the embedded defaults (files, SQLite, an outbox, the local
    engine) serve a whole job from `flask run` to the worker's mail."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    port = free_port()
    bin_dir = Path(sys.executable).parent
    web = subprocess.Popen(
        [str(bin_dir / "flask"), "--app", "reference_apps.mapreduce", "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "reference_apps.mapreduce.worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()

        def ready() -> bool:
            try:
                return session.get(f"{url}/readyz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, 60, "flask run")
        job = post_job(
            session, url, {"a.txt": "zero config"}, job="word-count", email="a@b.example"
        )
        done = wait_until(
            lambda: (
                (found := session.get(url + job["url"], timeout=5).json())["status"]
                in {"succeeded", "failed"}
                and found
            ),
            60,
            "the job",
        )
        assert done["status"] == "succeeded"
        assert session.get(url + done["result_url"], timeout=5).text == "config\t1\nzero\t1\n"
        data = tmp_path / ".local" / "share" / "tierstack" / "mapreduce"
        (mail,) = wait_until(lambda: list((data / "outbox").glob("*.eml")), 10, "the mail")
        assert f"{url}/download/" not in mail.read_text()  # PUBLIC_URL unset: the default
        assert "http://127.0.0.1:5000/download/" in mail.read_text()
    finally:
        for process in (runner, web):
            process.terminate()
            process.wait(timeout=20)
