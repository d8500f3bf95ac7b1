"""Faults of the backing services on the running local target, as an operator or the network
causes them, under a steady stream of requests through the load balancer with every response
counted: PostgreSQL restarted, the object store stopped for 30 s, the network between app1 and
the services host cut for 20 s, app1's gunicorn master killed, the services host's data volumes
filled to 100 % for 20 s.

Pass: no 500 (nor any answer other than success or 503), 503 only while the dependency is down,
no request past its timeout, every accepted upload readable and every accepted job done
afterwards, the worker never restarted. Each test restores what it broke in a finalizer and
waits until the target serves again, so the host tests after it see a healthy target.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from PIL import Image
from urllib3 import encode_multipart_formdata

from tests.faults import NO_ANSWER, Outage, Traffic
from tierstack.local.target import APPS, LocalTarget
from tierstack.local.topology import host_spec

pytestmark = [pytest.mark.hosts, pytest.mark.faults]

PASSWORD = "correct horse battery"
WORKER_UNIT = "image-processing-worker"
FAULT_TABLE = "tierstack_fault"  # the nftables table a fault adds and removes on app1
REQUEST_TIMEOUT = 30
BALLAST = ".tierstack-fault-ballast"  # the files that fill a data volume, at its top


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


class DriveUser:
    """A cloud-drive user through the load balancer: lists and uploads, remembers every 201."""

    def __init__(self, lb: Any, name: str) -> None:
        self.lb = lb
        csrf = lb.get("/api/v1/csrf").json()["csrf_token"]
        created = lb.post(
            "/api/v1/users",
            headers={"X-CSRFToken": csrf},
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert created.status_code == 201, created.text
        self.csrf = lb.get("/api/v1/csrf").json()["csrf_token"]  # bound to the new session
        self.uploaded: dict[str, bytes] = {}
        self.numbers = itertools.count()

    def list_files(self) -> tuple[int, str | None, str]:
        return answer(self.lb.get("/api/v1/files", timeout=REQUEST_TIMEOUT))

    def upload(self) -> tuple[int, str | None, str]:
        number = next(self.numbers)
        content = f"fault test file {number}\n".encode() * 40
        response = self.lb.post(
            "/api/v1/files",
            headers={"X-CSRFToken": self.csrf},
            files={"file": (f"f{number}.txt", content)},
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code == 201:
            self.uploaded[response.json()["id"]] = content
        return answer(response)

    def check_nothing_lost(self, unanswered: int = 0) -> None:
        """Every 201 is listed and readable; an upload whose answer was lost may be there too."""
        listed = {row["id"] for row in self.lb.get("/api/v1/files").json()["files"]}
        assert listed >= set(self.uploaded)
        assert len(listed - set(self.uploaded)) <= unanswered
        for file_id, content in self.uploaded.items():
            response = self.lb.get(f"/api/v1/files/{file_id}/content")
            assert response.status_code == 200 and response.content == content, file_id


class ImageOwner:
    """Queues image jobs through the load balancer; remembers every job answered 202."""

    def __init__(self, lb: Any) -> None:
        self.lb = lb
        self.lb.session.headers["Authorization"] = "Bearer " + "fault-owner-" + "x" * 32
        self.image = small_png()
        self.accepted: list[str] = []

    def submit(self) -> tuple[int, str | None, str]:
        response = self.lb.post(
            "/api/v1/images",
            files={"file": ("p.png", self.image, "image/png")},
            data={"filters": "grayscale", "mode": "async"},
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code == 202:
            self.accepted.append(response.json()["id"])
        return answer(response)

    def check_all_done(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.accepted)
        while waiting and time.monotonic() < deadline:
            waiting = [
                job_id
                for job_id in waiting
                if self.lb.get(f"/api/v1/jobs/{job_id}").json()["status"] != "done"
            ]
            time.sleep(1)
        assert not waiting, f"{len(waiting)} of {len(self.accepted)} accepted jobs not done"


def answer(response: Any) -> tuple[int, str | None, str]:
    detail = response.text[:200] if response.status_code >= 400 else ""
    return response.status_code, response.headers.get("Retry-After"), detail


def main_pid(host: Any, unit: str) -> tuple[str, str]:
    """(MainPID, NRestarts) of a unit: both unchanged means the process never went away."""
    output = host.check_output(f"systemctl show -p MainPID -p NRestarts --value {unit}")
    pid, restarts = output.split()
    return pid, restarts


@pytest.fixture
def restore(target: LocalTarget) -> Iterator[list[Callable[[], None]]]:
    """Undo actions run after the test, whatever its outcome, then the target must serve."""
    undo: list[Callable[[], None]] = []
    yield undo
    for action in reversed(undo):
        action()
    target.wait_until_serving()


def drive_and_images(client: Any, name: str) -> tuple[DriveUser, ImageOwner, Traffic]:
    user = DriveUser(client("cloud-drive"), f"{name}{int(time.time()) % 100000}")
    owner = ImageOwner(client("image-processing"))
    traffic = Traffic(
        {"list": user.list_files, "upload": user.upload, "submit": owner.submit}, interval=0.1
    )
    return user, owner, traffic


def ride_out(
    traffic: Traffic, begin: Callable[[], None], end: Callable[[], None], down: float
) -> Outage:
    """Traffic flowing and succeeding; the fault for ``down`` seconds; traffic until every
    kind of request succeeds again."""
    outage = Outage()
    with traffic:
        for kind in traffic.requests:
            traffic.wait_for(lambda o, k=kind: o.kind == k and o.status < 300, timeout=60)
        outage.start()
        try:
            begin()
            time.sleep(max(0.0, down - (time.monotonic() - outage.began)))
        finally:
            end()
            outage.stop()
        for kind in traffic.requests:
            traffic.wait_for(lambda o, k=kind: o.kind == k and o.status < 300, timeout=120)
    print(f"{traffic.summary()}; outage {outage.ended - outage.began:.1f} s")
    return outage


def assert_no_errors(traffic: Traffic, outage: Outage, slack: float) -> None:
    assert traffic.server_errors() == [], traffic.summary()
    assert set(traffic.statuses()) <= {200, 201, 202, 503}, [
        (o.kind, o.status, o.detail)
        for o in traffic.outcomes
        if o.status not in {200, 201, 202, 503}
    ]
    assert all(o.retry_after for o in traffic.unavailable()), "a 503 without Retry-After"
    assert traffic.outside(outage, slack) == [], traffic.summary()
    assert all(o.ended - o.started < REQUEST_TIMEOUT for o in traffic.outcomes)


def test_postgresql_restart(
    client: Any, hosts: dict[str, Any], restore: list[Callable[[], None]]
) -> None:
    services, worker = hosts["services"], hosts["worker"]
    restore.append(lambda: services.run("systemctl start postgresql"))
    user, owner, traffic = drive_and_images(client, "pgrestart")
    worker_before = main_pid(worker, WORKER_UNIT)
    outage = ride_out(
        traffic,
        lambda: services.check_output("systemctl restart postgresql"),
        lambda: None,
        down=0,
    )
    assert_no_errors(traffic, outage, slack=3)
    user.check_nothing_lost()
    owner.check_all_done()
    assert main_pid(worker, WORKER_UNIT) == worker_before, "the worker restarted"


def test_object_store_stopped_for_30_seconds(
    client: Any, hosts: dict[str, Any], restore: list[Callable[[], None]]
) -> None:
    services, worker = hosts["services"], hosts["worker"]
    restore.append(lambda: services.run("systemctl start seaweedfs"))
    user, owner, traffic = drive_and_images(client, "s3stop")
    worker_before = main_pid(worker, WORKER_UNIT)
    outage = ride_out(
        traffic,
        lambda: services.check_output("systemctl stop seaweedfs"),
        lambda: services.check_output("systemctl start seaweedfs"),
        down=30,
    )
    assert traffic.unavailable(), "no 503 while the object store was down: nothing was tested"
    listing = [o for o in traffic.outcomes if o.kind == "list"]
    assert all(o.status == 200 for o in listing), "listing files needs only the database"
    # SeaweedFS answers S3 only once its volume server has registered again, some seconds
    # after the unit is started: that time is still the dependency's outage.
    assert_no_errors(traffic, outage, slack=25)
    user.check_nothing_lost()
    owner.check_all_done()
    assert main_pid(worker, WORKER_UNIT) == worker_before, "the worker restarted"


def test_network_cut_between_app1_and_services_for_20_seconds(
    client: Any, hosts: dict[str, Any], target: LocalTarget, restore: list[Callable[[], None]]
) -> None:
    app1 = hosts["app1"]
    services_ip = target.ip("services")
    cut = (
        f"nft add table inet {FAULT_TABLE} && "
        f"nft add chain inet {FAULT_TABLE} out '{{ type filter hook output priority 0; }}' && "
        f"nft add rule inet {FAULT_TABLE} out ip daddr {services_ip} drop"
    )
    heal = f"nft delete table inet {FAULT_TABLE}"
    restore.append(lambda: app1.run(heal))
    user, owner, traffic = drive_and_images(client, "netcut")
    outage = ride_out(
        traffic, lambda: app1.check_output(cut), lambda: app1.check_output(heal), down=20
    )
    assert traffic.unavailable(), "no 503 while app1 was cut off: nothing was tested"
    # A request app1 had started when the network went away fails after the TCP user timeout
    # (10 s), and one already waiting may finish its wait after the cut is healed.
    assert_no_errors(traffic, outage, slack=12)
    user.check_nothing_lost()
    owner.check_all_done()


def wait_restarted(host: Any, unit: str, before: tuple[str, str]) -> None:
    """Until systemd has started ``unit`` again after its main process died, and it answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid, _ = main_pid(host, unit)
        if pid not in ("0", before[0]) and host.service(unit).is_running:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{unit} not restarted by systemd")
    port = APPS[unit].port
    host.check_output(
        f"timeout 60 sh -c 'until curl -sf http://127.0.0.1:{port}/healthz; do sleep 0.5; done'"
    )


def slow_upload(user: DriveUser, tag: str, seconds: float) -> int:
    """An upload whose body takes ``seconds`` to arrive (chunked), tagged in its query so the
    app server's access log tells who served it; its status, 0 if it got no answer."""
    content = f"slow upload {tag}\n".encode() * 200
    body, content_type = encode_multipart_formdata({"file": (f"{tag}.txt", content)})
    pieces = [body[i : i + 512] for i in range(0, len(body), 512)]

    def trickle() -> Iterator[bytes]:
        for piece in pieces:
            time.sleep(seconds / len(pieces))
            yield piece

    try:
        response = user.lb.post(
            f"/api/v1/files?tag={tag}",
            headers={"X-CSRFToken": user.csrf, "Content-Type": content_type},
            data=trickle(),
            timeout=REQUEST_TIMEOUT,
        )
    except requests.RequestException:
        return 0
    if response.status_code == 201:
        user.uploaded[response.json()["id"]] = content
    return response.status_code


def test_sigkill_of_a_gunicorn_master_lets_its_workers_finish_their_uploads(
    client: Any, hosts: dict[str, Any], restore: list[Callable[[], None]]
) -> None:
    """Two uploads whose bodies are still arriving, one on each app server (round robin, and
    nothing else is sent to cloud-drive meanwhile), when app1's gunicorn master is SIGKILLed.
    systemd sends the rest of the unit SIGTERM (KillMode=control-group): a gunicorn worker
    ends the request in hand, then exits. With KillMode=mixed the workers got SIGKILL and the
    upload on app1 died with them."""
    app1 = hosts["app1"]
    unit = "cloud-drive"
    restore.append(lambda: app1.run(f"systemctl start {unit}"))
    user = DriveUser(client(unit), f"slowkill{int(time.time()) % 100000}")
    before = main_pid(app1, unit)
    since = app1.check_output("date +%s")
    tags = [f"slow{before[0]}x{n}" for n in range(2)]
    with ThreadPoolExecutor(max_workers=len(tags)) as pool:
        uploads = [pool.submit(slow_upload, user, tag, 4.0) for tag in tags]
        time.sleep(1.5)
        app1.check_output(f"systemctl kill -s SIGKILL --kill-whom=main {unit}")
        statuses = [upload.result() for upload in uploads]
    wait_restarted(app1, unit, before)
    assert statuses == [201, 201], statuses
    served_by_app1 = app1.check_output(f"journalctl -u {unit} --since @{since} --no-pager -o cat")
    assert any(f"tag={tag}" in served_by_app1 for tag in tags), (
        "no slow upload was in flight on app1 when its master died: the test tested nothing"
    )
    user.check_nothing_lost()


def test_sigkill_of_a_gunicorn_master(
    client: Any, hosts: dict[str, Any], target: LocalTarget, restore: list[Callable[[], None]]
) -> None:
    app1 = hosts["app1"]
    unit = "cloud-drive"
    restore.append(lambda: app1.run(f"systemctl start {unit}"))
    user, owner, traffic = drive_and_images(client, "sigkill")
    before = main_pid(app1, unit)

    outage = ride_out(
        traffic,
        lambda: app1.check_output(f"systemctl kill -s SIGKILL --kill-whom=main {unit}"),
        lambda: wait_restarted(app1, unit, before),
        down=0,
    )
    # The load balancer sends what app1 cannot take to app2, and replays the reads app1 was
    # serving. The requests app1's workers were serving when their master died are finished:
    # systemd sends the rest of the unit SIGTERM (KillMode=control-group), and a gunicorn
    # worker on SIGTERM ends the request in hand before it exits. Nothing goes unanswered.
    unanswered = traffic.server_errors()
    assert unanswered == [], traffic.summary()
    assert set(traffic.statuses()) <= {200, 201, 202, NO_ANSWER}, traffic.summary()
    assert main_pid(app1, unit)[1] != before[1], "systemd did not count a restart"
    assert outage.ended > outage.began
    user.check_nothing_lost()
    owner.check_all_done()


def fill_volume(mount: str) -> str:
    """A shell command that takes every free block of the file system at ``mount``: one
    preallocated file for all but the last MiB (instant, no data written), then zeros to the end.
    """
    return (
        f"avail=$(df --output=avail -B1 {mount} | tail -1); "
        f"fallocate -l $((avail - 1048576)) {mount}/{BALLAST}.1 && "
        f"{{ dd if=/dev/zero of={mount}/{BALLAST}.2 bs=4k 2>/dev/null; true; }}"
    )


def df_bytes(host: Any, mount: str, field: str = "avail") -> int:
    """One of df's byte counts (avail, size) for the file system at ``mount``."""
    return int(host.check_output(f"df --output={field} -B1 {mount} | tail -1"))


def test_services_data_volumes_full_and_back(
    client: Any, hosts: dict[str, Any], restore: list[Callable[[], None]]
) -> None:
    """PostgreSQL's and SeaweedFS's volumes full for 20 s: writes answer 503 while nothing fits,
    reads go on, and everything accepted is there afterwards. Each volume is a file system of its
    own (a loop-mounted ext4 image), so the test fills it and never the machine's disk."""
    services, worker = hosts["services"], hosts["worker"]
    mounts = [volume.mount for volume in host_spec("services").volumes]
    assert mounts
    for mount in mounts:  # a volume of its own, small: filling it is safe and quick
        size = df_bytes(services, mount, "size")
        assert size <= 8 * 1024**3, f"{mount} is {size} bytes: not the target's own volume"
    empty = " ; ".join(f"rm -f {mount}/{BALLAST}.*" for mount in mounts)
    restore.append(lambda: services.run(empty))
    user, owner, traffic = drive_and_images(client, "diskfull")
    worker_before = main_pid(worker, WORKER_UNIT)

    def fill() -> None:
        for mount in mounts:
            services.run(fill_volume(mount))
        full = {mount: df_bytes(services, mount) for mount in mounts}
        assert all(free == 0 for free in full.values()), f"not full: {full}"

    outage = ride_out(traffic, fill, lambda: services.check_output(empty), down=20)
    assert traffic.unavailable(), "no 503 while the volumes were full: nothing was tested"
    # PostgreSQL stops itself on a full disk (a PANIC, and its recovery cannot write), so even
    # listing answers 503 for a while; it is back once systemd has started it with room again.
    # SeaweedFS is restarted by its watchdog (up to 10 s) and serves S3 some 20 s later.
    for kind in traffic.requests:  # how long after the room came back each kind recovered
        last = max((o.ended for o in traffic.unavailable() if o.kind == kind), default=None)
        print(f"{kind}: last 503 {last - outage.ended:.1f} s after" if last else f"{kind}: no 503")
    assert_no_errors(traffic, outage, slack=75)
    user.check_nothing_lost()
    owner.check_all_done()
    assert main_pid(worker, WORKER_UNIT) == worker_before, "the worker restarted"
    assert all(df_bytes(services, mount) > 0 for mount in mounts)
