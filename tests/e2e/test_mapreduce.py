"""mapreduce on the local target, end to end: through the load balancer over HTTPS a corpus is
uploaded and the inverted index submitted; the job runner on the worker host runs it on the
target's Spark standalone cluster (master on services, a worker on the worker host); the result
must equal a ``mapper | sort | reducer`` pipe of the same programs run here, the services host's
mail sink must hold the notification, and its link must download the result through the load
balancer. Then the Spark worker is killed mid-job: the job still completes, or fails with a
reason the user sees; it never hangs."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from reference_apps.mapreduce.programs import built_in
from tests.e2e.conftest import LbClient, wait_until
from tierstack.local.target import LocalTarget

pytestmark = [pytest.mark.hosts, pytest.mark.faults]  # kills the Spark worker

APP = "mapreduce"
MAILDIR = "/var/lib/mail-sink/Maildir/new"
FINAL = {"succeeded", "failed"}
# A job needs a Spark driver (about 10 s to start) and tasks on one executor core.
JOB_WAIT = 180

CORPUS = {
    "alpha.txt": "The quick brown fox jumps over the lazy dog.\nDon't panic!\n",
    "beta.txt": "A lazy afternoon: the fox sleeps, the dog barks.\r\nL'été est là.\n",
    "gamma,notes.txt": "Quick, quick! Brown bread and brown BUTTER; 42 foxes.\n",
    "empty.txt": "",
}


def pipe(job: str, files: dict[str, bytes], input_format: str = "documents") -> str:
    """The Hadoop streaming contract by hand with the job's own programs: each file through the
    mapper (its name as Hadoop sets it), ``LC_ALL=C sort`` of everything, then the reducer."""
    program = built_in(job, input_format)
    with tempfile.TemporaryDirectory() as folder:
        mapper, reducer = Path(folder) / "mapper.py", Path(folder) / "reducer.py"
        mapper.write_bytes(program.mapper)
        reducer.write_bytes(program.reducer)
        mapped = b""
        for name, data in files.items():
            env = {**os.environ, **program.env, "mapreduce_map_input_file": name}
            mapped += subprocess.run(
                [sys.executable, str(mapper)], input=data, capture_output=True, check=True, env=env
            ).stdout
        shuffled = subprocess.run(
            ["sort", "-t", "\t", "-k1,1", "-s"],
            input=mapped,
            capture_output=True,
            check=True,
            env={**os.environ, "LC_ALL": "C"},
        ).stdout
        return subprocess.run(
            [sys.executable, str(reducer)],
            input=shuffled,
            capture_output=True,
            check=True,
            env={**os.environ, **program.env},
        ).stdout.decode()


def submit(api: LbClient, files: dict[str, bytes], mail_to: str) -> dict[str, Any]:
    response = api.post(
        "/api/v1/jobs",
        data={"job": "inverted-index", "input_format": "documents", "email": mail_to},
        files=[("input", (name, data, "text/plain")) for name, data in files.items()],
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return response.json()


def final_state(api: LbClient, job: dict[str, Any], timeout: float = JOB_WAIT) -> dict[str, Any]:
    """The job once it is succeeded or failed; a job still queued or running after ``timeout``
    fails the test (a hang)."""

    def done() -> dict[str, Any] | None:
        shown = api.get(job["url"]).json()
        return shown if shown["status"] in FINAL else None

    return wait_until(done, timeout, f"job {job['id']} to finish", every=1)


def mail_to(hosts: dict[str, Any], address: str) -> email.message.EmailMessage | None:
    """The one message the services host's mail sink holds for ``address``, if any."""
    services = hosts["services"]
    found = services.check_output(f"grep -l -r 'To: {address}' {MAILDIR} || true").split()
    if not found:
        return None
    assert len(found) == 1, f"{len(found)} messages to {address}"
    raw = services.check_output(f"cat {found[0]}")
    return email.message_from_string(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_inverted_index_through_the_lb_on_spark_and_mailed_link(
    client: Any, hosts: dict[str, Any], target: LocalTarget
) -> None:
    api = client(APP)
    files = {name: text.encode() for name, text in CORPUS.items()}
    address = f"e2e-{uuid.uuid4().hex[:12]}@tierstack.test"
    job = final_state(api, submit(api, files, address))
    assert job["status"] == "succeeded", job
    expected = pipe("inverted-index", files)
    assert "fox\t" in expected and "gamma%2Cnotes.txt" in expected  # the corpus says something
    result = api.get(job["result_url"])
    assert result.status_code == 200
    # The parts (one per reducer, each sorted) hold exactly the pipe's lines.
    assert sorted(result.text.splitlines()) == sorted(expected.splitlines())
    assert len(job["results"]) == 2
    # It ran on the cluster: the job runner's driver registered with the master on services.
    runner_log = hosts["worker"].check_output(
        "journalctl -u mapreduce-worker --no-pager -o cat --since '-10min'"
    )
    assert "spark" in runner_log.lower()

    message = wait_until(lambda: mail_to(hosts, address), 30, f"the mail to {address}")
    assert message["Subject"] == "MapReduce job inverted-index succeeded"
    body = message.get_content()
    links = re.findall(r"https://\S+/download/\S+", body)
    assert len(links) == 1, body
    link = links[0]
    assert link.startswith(target.urls()[APP].rstrip("/") + "/download/")
    download = api.get(link.removeprefix(api.base))
    assert download.status_code == 200
    assert download.text == result.text
    # The link is a secret: a guessed one is refused with a message, not a 500.
    assert api.get("/download/" + "x" * 43).status_code == 404


def test_losing_the_spark_worker_mid_job_never_hangs(
    client: Any, hosts: dict[str, Any], target: LocalTarget
) -> None:
    api = client(APP)
    # 100 documents, one map task each on the single executor core: a job of many seconds.
    words = [f"word{n}" for n in range(400)]
    files = {
        f"doc-{n:03d}.txt": " ".join(words[(n * 7 + k) % len(words)] for k in range(2000)).encode()
        for n in range(100)
    }
    address = f"e2e-{uuid.uuid4().hex[:12]}@tierstack.test"
    job = submit(api, files, address)
    worker = hosts["worker"]

    def executor_running() -> bool:
        shown = api.get(job["url"]).json()
        assert shown["status"] not in FINAL, f"the job ended before the fault: {shown}"
        return (
            shown["status"] == "running"
            and worker.run("pgrep -u spark -f CoarseGrainedExecutorBackend").rc == 0
        )

    wait_until(executor_running, 120, "an executor running the job", every=0.5)
    try:
        worker.check_output("systemctl kill --signal=SIGKILL spark-worker")
        shown = final_state(api, job)
    finally:
        # Whatever happened, the cluster gets its worker back for the next test.
        wait_until(lambda: worker.service("spark-worker").is_running, 60, "spark-worker back")
    if shown["status"] == "succeeded":
        result = api.get(shown["result_url"]).text.splitlines()
        assert sorted(result) == sorted(pipe("inverted-index", files).splitlines())
        subject = "MapReduce job inverted-index succeeded"
    else:
        # A clear reason for the user, on the job and in the mail: Spark lost its worker.
        assert "spark" in shown["error"].lower(), shown
        page = api.get(f"/jobs/{shown['id']}")
        assert page.status_code == 200 and shown["error"][:40] in page.text
        subject = "MapReduce job inverted-index failed"
    message = wait_until(lambda: mail_to(hosts, address), 30, f"the mail to {address}")
    assert message["Subject"] == subject
