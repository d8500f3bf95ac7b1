"""The image-processing app through its HTTP interface (Flask test client on the real app with
the embedded local backends in a temporary folder)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from conftest import jpeg, png
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from reference_apps.backends.object_store import FileObjectStore
from reference_apps.image_processing import create_app
from reference_apps.image_processing.filters import FILTERS, parse_pipeline, rotated_size


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(
        {
            "DATA_DIR": str(tmp_path),
            "MAX_UPLOAD_MB": "1",
            "MAX_IMAGE_PIXELS": "1000000",
            "SYNC_MAX_PIXELS": "20000",
        }
    )


OWNER = "owner-token-of-the-tests-0123456789abcdef"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An API client that sends its owner token with every call, like a script would."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {OWNER}"
    return test_client


def stored_keys(app: Flask) -> list[str]:
    return app.extensions["image_service"].objects.list()


def upload(
    client: FlaskClient, data: bytes, filters: str = "grayscale", name: str = "a.jpg", **form: str
):
    return client.post(
        "/api/v1/images", data={"file": (io.BytesIO(data), name), "filters": filters, **form}
    )


def test_small_image_is_processed_synchronously(client: FlaskClient, app: Flask) -> None:
    response = upload(client, jpeg(64, 48, "red"), "grayscale,blur:radius=1.5,rotate:angle=90")
    assert response.status_code == 201
    job = response.json
    assert job["status"] == "done" and job["attempts"] == 1
    assert job["filters"] == [
        {"name": "grayscale"},
        {"name": "blur", "radius": 1.5},
        {"name": "rotate", "angle": 90.0, "expand": True},
    ]
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    result = client.get(job["result_url"])
    assert result.status_code == 200 and result.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(result.data))
    assert (image.mode, image.size) == ("L", (48, 64))  # grey, and rotated by 90 degrees
    assert sorted(stored_keys(app)) == [f"originals/{job['id']}", f"results/{job['id']}"]


def test_every_filter_runs(client: FlaskClient) -> None:
    pipeline = json.dumps(
        [
            "grayscale",
            {"name": "sharpen", "radius": 1, "percent": 120},
            "contour",
            "edge_enhance",
            "emboss",
            {"name": "blur", "radius": 0.5},
            {"name": "resize", "width": 40, "height": 30},
            {"name": "thumbnail", "size": 20},
        ]
    )
    response = upload(client, png(80, 60), pipeline, "g.png")
    assert response.status_code == 201, response.json
    result = client.get(response.json["result_url"])
    assert result.mimetype == "image/png"
    assert Image.open(io.BytesIO(result.data)).size == (20, 15)


def test_large_image_is_queued_and_listed(client: FlaskClient, app: Flask) -> None:
    response = upload(client, jpeg(200, 200))  # 40,000 pixels > SYNC_MAX_PIXELS
    assert response.status_code == 202
    job = response.json
    assert job["status"] == "queued" and job["result_url"] is None
    assert client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 404
    message = app.extensions["image_service"].queue.receive()
    assert message is not None and message.body == {"job_id": job["id"]}
    listed = client.get("/api/v1/jobs").json["jobs"]
    assert [item["id"] for item in listed] == [job["id"]]


def test_batch_queues_every_file(client: FlaskClient, app: Flask) -> None:
    files = [(io.BytesIO(jpeg()), "1.jpg"), (io.BytesIO(png()), "2.png")]
    response = client.post("/api/v1/batches", data={"file": files, "filters": "emboss"})
    assert response.status_code == 202
    jobs = response.json["jobs"]
    assert [job["status"] for job in jobs] == ["queued", "queued"]
    assert {job["batch_id"] for job in jobs} == {response.json["batch_id"]}
    queue = app.extensions["image_service"].queue
    received = {queue.receive().body["job_id"], queue.receive().body["job_id"]}
    assert received == {job["id"] for job in jobs}


def test_batch_with_one_bad_file_stores_nothing(client: FlaskClient, app: Flask) -> None:
    files = [(io.BytesIO(jpeg()), "ok.jpg"), (io.BytesIO(b"%PDF-1.4"), "bad.pdf")]
    response = client.post("/api/v1/batches", data={"file": files, "filters": "emboss"})
    assert response.status_code == 415
    assert response.json["error"].startswith("bad.pdf: ")
    assert stored_keys(app) == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("sepia", "unknown filter 'sepia'; known filters: blur, contour"),
        ("blur:radius=99", "blur.radius: must be between 0 and 50"),
        ("blur:radius=abc", "blur.radius: must be a number, got 'abc'"),
        ("blur:sigma=2", "blur: unknown parameter 'sigma' (known: radius)"),
        ("rotate", "rotate.angle: required"),
        ("resize:width=10;height=1.5", "resize.height: must be a whole number"),
        ("rotate:angle=5;expand=maybe", "rotate.expand: must be true or false"),
        ('[{"name": 3}]', "filters[0]: give a filter name"),
        ("[not json", "filters: invalid JSON"),
        ("", "choose at least one filter"),
        (",".join(["grayscale"] * 11), "at most 10 steps"),
    ],
)
def test_bad_filters_answer_400(client: FlaskClient, app: Flask, filters: str, message: str):
    response = upload(client, jpeg(), filters)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert stored_keys(app) == []


def test_resize_beyond_the_pixel_budget_is_refused(client: FlaskClient, app: Flask) -> None:
    response = upload(client, jpeg(), "resize:width=8000;height=8000")
    assert response.status_code == 422
    assert "exceeds the limit of 1000000 pixels" in response.json["error"]
    assert stored_keys(app) == []


def test_non_image_is_415(client: FlaskClient, app: Flask) -> None:
    response = upload(client, b"#!/bin/sh\necho not an image\n", name="evil.jpg")
    assert response.status_code == 415
    assert "not an image" in response.json["error"]
    assert stored_keys(app) == []


def test_unaccepted_image_format_is_415(client: FlaskClient) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "ICO")
    response = upload(client, buffer.getvalue(), name="x.ico")
    assert response.status_code == 415
    assert "ICO images are not accepted" in response.json["error"]


def test_truncated_image_is_415(client: FlaskClient) -> None:
    response = upload(client, png(300, 300)[:200])
    assert response.status_code == 415
    assert "could not be decoded" in response.json["error"]


def test_empty_upload_is_400(client: FlaskClient) -> None:
    response = upload(client, b"")
    assert response.status_code == 400
    assert response.json["error"] == "the uploaded file is empty"


def test_missing_file_field_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/images", data={"filters": "grayscale"})
    assert response.status_code == 400
    assert "multipart/form-data field 'file'" in response.json["error"]


def test_over_the_size_limit_is_413(client: FlaskClient, app: Flask) -> None:
    response = upload(client, b"\xff" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json["error"] == "request body exceeds the 1 MB limit (MAX_UPLOAD_MB)"
    assert stored_keys(app) == []


def test_decompression_bomb_is_refused_before_decoding(client: FlaskClient, app: Flask) -> None:
    """A 5000x5000 PNG of one colour compresses to a few KB but decodes to 25 MP."""
    buffer = io.BytesIO()
    Image.new("L", (5000, 5000), 0).save(buffer, "PNG", optimize=True)
    assert len(buffer.getvalue()) < 100_000
    response = upload(client, buffer.getvalue(), name="bomb.png")
    assert response.status_code == 422
    assert "5000x5000 = 25000000 pixels exceeds the limit" in response.json["error"]
    assert stored_keys(app) == []


@pytest.mark.parametrize(
    ("name", "stored_as"),
    [
        ("../../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
        ("evil\x01name\x7f\t.jpg", "evilname.jpg"),
        ("<script>alert(1)</script>.jpg", "script_.jpg"),
        ("..", "upload"),
    ],
)
def test_hostile_filenames_are_stored_safely(
    client: FlaskClient, app: Flask, tmp_path: Path, name: str, stored_as: str
) -> None:
    response = upload(client, jpeg(), name=name)
    assert response.status_code == 201
    filename = response.json["filename"]
    assert stored_as in filename
    assert not set(filename) & {"/", "\\", "\x00", "\r", "\n", "<", ">"}
    # the bytes live under ids in the data folder, never at a path taken from the name
    root = tmp_path / "objects"
    files = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    job_id = response.json["id"]
    assert files == [f"originals/{job_id}", f"results/{job_id}"]
    disposition = client.get(response.json["result_url"]).headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition


def test_nothing_partial_is_left_when_a_backend_fails(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The KV write fails after both objects were stored: they must be removed again."""
    service = app.extensions["image_service"]

    def broken_put(key: str, item: dict) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(service.kv, "put", broken_put)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = upload(client, jpeg())
    assert response.status_code == 500
    assert isinstance(service.objects, FileObjectStore)
    assert stored_keys(app) == []


def test_queue_failure_removes_the_job_record_too(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = app.extensions["image_service"]
    monkeypatch.setattr(service.queue, "send", lambda body: (_ for _ in ()).throw(OSError("down")))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = upload(client, jpeg(200, 200))
    assert response.status_code == 500
    assert stored_keys(app) == []
    assert client.get("/api/v1/jobs").json["jobs"] == []


def test_unknown_job_is_404(client: FlaskClient) -> None:
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/jobs/" + "0" * 28).json == {"error": f"no job '{'0' * 28}'"}


def test_bad_limit_is_400(client: FlaskClient) -> None:
    assert client.get("/api/v1/jobs?limit=0").status_code == 400
    assert client.get("/api/v1/jobs?limit=x").json["error"].startswith("limit must be")


def test_probes_and_openapi(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"object_store": "ok", "queue": "ok", "kv": "ok"}
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/images", "/api/v1/batches", "/api/v1/jobs/{job_id}/result"} <= set(
        spec["paths"]
    )


def test_readyz_names_the_failing_backend(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        app.extensions["image_service"].kv,
        "check",
        lambda: (_ for _ in ()).throw(ConnectionError("gone")),
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["kv"] == "error: ConnectionError"
    assert ready.json["checks"]["queue"] == "ok"


def test_html_form_needs_csrf_and_processes(client: FlaskClient, app: Flask) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"edge_enhance" in page.data
    form = {
        "file": (io.BytesIO(jpeg()), "f.jpg"),
        "filter": ["grayscale", "blur"],
        "blur.radius": "1",
    }
    refused = client.post("/", data=dict(form))
    assert refused.status_code == 400 and b"CSRF" in refused.data
    token = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
    form["file"] = (io.BytesIO(jpeg()), "f.jpg")
    done = client.post("/", data={**form, "csrf_token": token})
    assert done.status_code == 303
    job_page = client.get(done.headers["Location"])
    assert b'class="state state-done" aria-live="polite">done</strong>' in job_page.data


def test_proxy_headers_are_honoured_for_one_hop(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


@given(
    width=st.integers(1, 60),
    height=st.integers(1, 60),
    angle=st.floats(-360, 360, allow_nan=False).map(lambda value: round(value, 3)),
)
@settings(max_examples=200, deadline=None)
def test_the_predicted_rotation_size_is_pillows(width: int, height: int, angle: float) -> None:
    rotated = Image.new("L", (width, height)).rotate(angle, expand=True)
    assert rotated_size(width, height, angle) == rotated.size


def test_repeated_rotate_with_expand_stays_within_the_pixel_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 300x300 image rotated by 45 degrees with expand, ten times, used to become 4858x4858
    under a 1 Mpx limit. Each step's size is now checked before it runs, and after."""
    app = create_app(
        {"DATA_DIR": str(tmp_path), "MAX_IMAGE_PIXELS": "1000000", "SYNC_MAX_PIXELS": "100000"}
    )
    made: list[int] = []
    rotate = FILTERS["rotate"]

    def recording(image: Image.Image, **params: object) -> Image.Image:
        result = rotate.apply(image, **params)
        made.append(result.width * result.height)
        return result

    monkeypatch.setitem(FILTERS, "rotate", dataclasses.replace(rotate, apply=recording))
    response = upload(app.test_client(), png(300, 300), ",".join(["rotate:angle=45"] * 10))
    assert response.status_code == 422
    assert response.json["error"].startswith("image of 1212x1212 = 1468944 pixels exceeds")
    assert response.json["error"].endswith("the limit of 1000000 pixels (MAX_IMAGE_PIXELS)")
    assert len(made) == 3 and max(made) <= 1_000_000  # the 4th step never ran
    assert stored_keys(app) == []


def test_the_worker_fails_a_job_that_would_grow_past_the_limit(tmp_path: Path) -> None:
    from reference_apps.image_processing import build_service, load_settings
    from reference_apps.image_processing.worker import handle

    env = {"DATA_DIR": str(tmp_path), "MAX_IMAGE_PIXELS": "1000000", "QUEUE_MAX_DELIVERIES": "1"}
    service = build_service(load_settings(env))
    pipeline = parse_pipeline(",".join(["rotate:angle=45"] * 10))
    job = service.submit(png(300, 300), "big.png", pipeline, "async")
    assert handle(service, service.queue.receive()) is False
    failed = service.get(job["id"])
    assert failed["status"] == "failed" and "exceeds the limit of 1000000" in failed["error"]
    assert service.objects.list("results/") == []


def test_jobs_are_visible_to_their_owner_only(app: Flask) -> None:
    alice, mallory = app.test_client(), app.test_client()
    created = upload(alice, jpeg(64, 48))
    assert created.status_code == 201
    token = created.json["owner_token"]  # no token sent: a new one, shown once
    job = created.json
    script = app.test_client(use_cookies=False)  # a client without cookies sends the token
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    queued = upload(script, jpeg(200, 200))  # same owner: no new token
    assert queued.status_code == 202 and "owner_token" not in queued.json
    listed = script.get("/api/v1/jobs").json["jobs"]
    assert [item["id"] for item in listed] == [queued.json["id"], job["id"]]  # newest first
    assert alice.get("/api/v1/jobs").json["jobs"] == listed  # alice keeps cookies: same owner
    assert app.test_client(use_cookies=False).get(job["url"]).status_code == 401
    assert all("owner" not in item for item in listed)
    assert alice.get(job["url"]).status_code == 200
    assert alice.get(job["result_url"]).status_code == 200

    another = upload(mallory, jpeg())  # mallory's own first upload: a token of her own
    assert another.json["owner_token"] != token
    assert [item["id"] for item in mallory.get("/api/v1/jobs").json["jobs"]] == [another.json["id"]]
    mallory = app.test_client(use_cookies=False)
    anonymous = mallory.get("/api/v1/jobs")
    assert anonymous.status_code == 401 and "owner_token" in anonymous.json["error"]
    assert mallory.get(job["url"]).status_code == 401
    mallory.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {OWNER}"
    assert mallory.get("/api/v1/jobs").json["jobs"] == []
    assert mallory.get(job["url"]).json == {"error": f"no job {job['id']!r}"}
    assert mallory.get(job["result_url"]).status_code == 404
    assert mallory.get("/").data.count(b"job-card") == 0
    mallory.environ_base["HTTP_AUTHORIZATION"] = "Bearer short"
    assert mallory.get("/api/v1/jobs").status_code == 400


def test_browsers_see_their_own_jobs_only(app: Flask) -> None:
    def post_form(browser: FlaskClient) -> str:
        page = browser.get("/")
        csrf = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
        done = browser.post(
            "/",
            data={"file": (io.BytesIO(jpeg()), "mine.jpg"), "filter": "emboss", "csrf_token": csrf},
        )
        assert done.status_code == 303
        return done.headers["Location"]

    alice, bob = app.test_client(), app.test_client()
    job_page = post_form(alice)
    assert b"mine.jpg" in alice.get("/").data
    assert alice.get(job_page).status_code == 200
    assert b"mine.jpg" not in bob.get("/").data and b"No jobs yet" in bob.get("/").data
    assert bob.get(job_page).status_code == 404
    job_id = job_page.rsplit("/", 1)[1]
    assert bob.get(f"/api/v1/jobs/{job_id}/result").status_code == 401
    assert alice.get(f"/api/v1/jobs/{job_id}/result").status_code == 200  # the page's <img>


def test_listing_reads_the_index_never_the_bucket(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [upload(client, jpeg()).json["id"] for _ in range(3)]
    objects = app.extensions["image_service"].objects

    def no_listing(prefix: str = "") -> list[str]:
        raise AssertionError(f"the object store was listed ({prefix!r})")

    monkeypatch.setattr(objects, "list", no_listing)
    listed = client.get("/api/v1/jobs?limit=2").json["jobs"]
    assert [job["id"] for job in listed] == ids[::-1][:2]
    assert client.get("/").status_code == 200
