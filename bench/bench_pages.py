"""Image-processing page thumbnails: what the first view of a job costs, and a cached one.

Workload: a 6000x4000 JPEG (24 MP, the size of a phone photo) as a job's original.
- make: decode + 320 px WebP, with a full decode vs. the JPEG draft decode the app uses
- page: GET /jobs/<id>/thumbnails/original through the app (Flask test client, local object
  store): the first request makes and stores the thumbnail, the next ones read it back
CPU time of this process (the machine is shared; wall time is given too), median of 5.
"""

from __future__ import annotations

import io
import re
import statistics
import tempfile
import time
from collections.abc import Callable

from PIL import Image

from reference_apps.image_processing import create_app
from reference_apps.image_processing.thumbnails import THUMBNAIL_SIZE, make_thumbnail

RUNS = 5


def photo() -> bytes:
    fractal = Image.effect_mandelbrot((6000, 4000), (-2.2, -1.2, 1.0, 1.2), 60)
    ramp = Image.linear_gradient("L").resize((6000, 4000))
    buffer = io.BytesIO()
    Image.merge("RGB", (ramp, fractal, ramp.transpose(Image.Transpose.ROTATE_180))).save(
        buffer, "JPEG", quality=90
    )
    return buffer.getvalue()


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Median CPU and wall milliseconds of RUNS calls."""
    cpu, wall = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def full_decode(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.load()
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    image.save(output, "WEBP", quality=80)
    return output.getvalue()


def main() -> None:
    data = photo()
    folder = tempfile.mkdtemp(prefix="bench-pages-")
    app = create_app({"DATA_DIR": folder, "SESSION_COOKIE_SECURE": "false", "SYNC_MAX_PIXELS": "0"})
    service = app.extensions["image_service"]
    print(f"original: 6000x4000 JPEG, {len(data) / 1e6:.1f} MB")
    cpu, wall = timed(lambda: full_decode(data))
    print(f"make, full decode:  {cpu:7.1f} ms CPU  {wall:7.1f} ms wall")
    cpu, wall = timed(lambda: make_thumbnail(data, service))
    print(f"make, draft decode: {cpu:7.1f} ms CPU  {wall:7.1f} ms wall")
    print(f"thumbnail: {len(make_thumbnail(data, service))} bytes")

    client = app.test_client()
    form = client.get("/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    first_cpu, first_wall, cached_cpu, cached_wall = [], [], [], []
    for _ in range(RUNS):
        answer = client.post(
            "/",
            data={
                "csrf_token": token.group(1),
                "file": (io.BytesIO(data), "photo.jpg"),
                "filter": "grayscale",
            },
        )
        url = answer.headers["Location"] + "/thumbnails/original"
        for cpu_list, wall_list in ((first_cpu, first_wall), (cached_cpu, cached_wall)):
            started, started_cpu = time.perf_counter(), time.process_time()
            assert client.get(url).status_code == 200
            cpu_list.append((time.process_time() - started_cpu) * 1000)
            wall_list.append((time.perf_counter() - started) * 1000)
    print(
        f"page, first view:   {statistics.median(first_cpu):7.1f} ms CPU"
        f"  {statistics.median(first_wall):7.1f} ms wall"
    )
    print(
        f"page, cached:       {statistics.median(cached_cpu):7.1f} ms CPU"
        f"  {statistics.median(cached_wall):7.1f} ms wall"
    )


if __name__ == "__main__":
    main()
