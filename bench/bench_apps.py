"""Image-processing throughput through the HTTP API (gunicorn) vs. Pillow in one process.

Workload: a 1024x768 JPEG, grayscale then blur (radius 2), processed synchronously.
- direct: Pillow decode + filters + encode in this process (one core), images/s
- http:   POST /api/v1/images to gunicorn with one sync worker per core, 2 clients per core;
          images/s, and per core (target: >= 0.7x direct)
- round trip: sequential upload -> download of the result, p50 / p99 latency in ms
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image, ImageFilter, ImageOps
from urllib3 import encode_multipart_formdata

REPO = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def sample_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((1024, 768), 40).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def direct(data: bytes) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        image = Image.open(io.BytesIO(data))
        image.load()
        image = ImageOps.grayscale(image).filter(ImageFilter.GaussianBlur(2))
        image.save(io.BytesIO(), "JPEG", quality=90)
        count += 1
    return count / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(data: bytes) -> tuple[bytes, str]:
    """The request body, encoded once so the load generator spends its CPU on sending."""
    fields = {"file": ("bench.jpg", data, "image/jpeg"), "filters": "grayscale,blur:radius=2"}
    return encode_multipart_formdata(fields)


def upload(session: requests.Session, base: str, body: tuple[bytes, str]) -> dict:
    payload, content_type = body
    response = session.post(
        f"{base}/api/v1/images", data=payload, headers={"Content-Type": content_type}, timeout=60
    )
    response.raise_for_status()
    return response.json()


def http_throughput(base: str, body: tuple[bytes, str]) -> float:
    clients = 2 * CORES
    deadline = time.perf_counter() + SECONDS

    def client() -> int:
        session, done = requests.Session(), 0
        while time.perf_counter() < deadline:
            upload(session, base, body)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(lambda _: client(), range(clients)))
    return total / (time.perf_counter() - started)


def round_trips(base: str, body: tuple[bytes, str], count: int = 200) -> list[float]:
    session, latencies = requests.Session(), []
    for _ in range(count):
        started = time.perf_counter()
        job = upload(session, base, body)
        # A job is readable by its owner only: the upload's token proves it.
        owner = {"Authorization": f"Bearer {job['owner_token']}"}
        session.get(base + job["result_url"], headers=owner, timeout=60).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main() -> None:
    data = sample_jpeg()
    per_core_direct = direct(data)
    workdir = Path(tempfile.mkdtemp(prefix="bench-apps-"))
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(workdir), "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(CORES),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "reference_apps.image_processing.wsgi:app",
        ],
        cwd=REPO,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        body = multipart(data)
        upload(requests.Session(), base, body)  # warm up
        http = http_throughput(base, body)
        latencies = round_trips(base, body)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"workload: 1024x768 JPEG ({len(data) // 1024} KiB), grayscale + blur(2); {CORES} cores")
    print(f"direct Pillow, 1 process:        {per_core_direct:7.1f} images/s")
    print(
        f"HTTP API, gunicorn x{CORES} workers:   {http:7.1f} images/s"
        f" = {http / CORES:.1f}/core = {http / CORES / per_core_direct:.2f}x direct (target 0.7x)"
    )
    print(
        f"upload -> download round trip:   p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms"
        f" ({len(latencies)} sequential)"
    )


if __name__ == "__main__":
    main()
