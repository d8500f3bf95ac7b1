"""Local target benchmark: cold `up` (hosts created and converged from nothing), re-converge
with everything in place, and requests/s through the load balancer vs. straight to one app server.

Uses its own target (tierstack-bench) on free ports and removes it afterwards. With
--cold-image the base image is removed and rebuilt first (as on a fresh machine).
Targets: cold up <= 5 min including the image build; re-converge <= 30 s; LB path >= 0.85x.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

import requests

from tierstack.local import podman
from tierstack.local.target import APPS, REPO, LocalTarget, available_apps
from tierstack.local.testing import free_port


def timed(label: str, action: object) -> float:
    started = time.monotonic()
    action()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    print(f"{label}: {elapsed:.1f} s")
    return elapsed


def requests_per_second(
    url: str, headers: dict[str, str], verify: str | bool, seconds: float, threads: int
) -> float:
    """Completed 200 responses per second with `threads` keep-alive clients."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            if session.get(url, headers=headers, verify=verify, timeout=10).status_code == 200:
                counts[index] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--cold-image",
        action="store_true",
        help="remove and rebuild the base image first (counts in cold up)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    args = parser.parse_args()

    apps = available_apps()
    if not apps:
        print("bench_local: no reference app to deploy", file=sys.stderr)
        return 1
    target = LocalTarget(
        name="tierstack-bench",
        subnet="10.231.8.0/24",
        https_port=free_port(),
        http_port=free_port(),
        apps=apps,
    )
    target.remove_hosts(purge=True)
    try:
        image = 0.0
        if args.cold_image:
            podman.run(["rmi", "-f", podman.IMAGE], check=False)
            image = timed(
                "base image build (scripts/setup.d/30-hosts.sh)",
                lambda: subprocess.run(
                    ["bash", "scripts/setup.d/30-hosts.sh"], cwd=REPO, check=True
                ),
            )

        def cold() -> None:
            target.create_hosts()
            target.converge(log_name="bench-cold.log")

        up = timed("cold up (create 5 hosts + converge)", cold)
        if args.cold_image:
            print(f"cold up including the image build: {image + up:.1f} s (target <= 300 s)")
        timed(
            "re-converge, everything in place (target <= 30 s)",
            lambda: target.converge(log_name="bench-reconverge.log"),
        )

        target.wait_until_serving()
        ca = str(target.ca_certificate())
        app = apps[0]
        lb_rps = requests_per_second(
            f"https://127.0.0.1:{target.https_port}/healthz",
            {"Host": f"{app}.localhost:{target.https_port}"},
            ca,
            args.seconds,
            args.threads,
        )
        direct_rps = requests_per_second(
            f"http://{target.ip('app1')}:{APPS[app].port}/healthz",
            {},
            False,
            args.seconds,
            args.threads,
        )
        print(f"GET /healthz ({app}), {args.threads} clients, {args.seconds:.0f} s each:")
        print(f"  through the LB (HTTPS, 2 app servers): {lb_rps:.0f} req/s")
        print(f"  straight to app1 (HTTP):               {direct_rps:.0f} req/s")
        print(f"  ratio LB / direct: {lb_rps / direct_rps:.2f} (target >= 0.85)")
    finally:
        target.remove_hosts(purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
