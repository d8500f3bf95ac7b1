"""The JSON API (``/api/v1``), described by ``/openapi.json``. No cookies, so no CSRF token.

Jobs belong to an owner token: a new upload without ``Authorization: Bearer <token>`` (and without
a session cookie that holds one) gets a new one in ``owner_token`` (shown once); every read of a
job, a result or the job list sends it back.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, session, url_for

from ..web import ApiError, content_disposition
from .filters import FILTERS, ImageError, parse_pipeline
from .service import OWNER_TOKEN, ImageService, JobNotFound, new_job_id, new_owner_token, owner_of

api = Blueprint("api", __name__, url_prefix="/api/v1")


def service() -> ImageService:
    return current_app.extensions["image_service"]


def bearer_token() -> str | None:
    """The owner token of an API call (``Authorization: Bearer``); 400 when malformed."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not scheme:
        return None
    if scheme.lower() != "bearer" or not OWNER_TOKEN.match(token.strip()):
        raise ApiError(400, "send Authorization: Bearer <the owner_token of your first upload>")
    return token.strip()


def reader() -> str:
    """Who reads: the bearer token, or this browser's own (pages keep it in the session)."""
    token = bearer_token() or session.get("owner")
    if not isinstance(token, str):
        raise ApiError(401, "send Authorization: Bearer <the owner_token returned at upload>")
    return owner_of(token)


def creator() -> tuple[str, str | None]:
    """The owner digest for a new job, and the token to return when it is a new one.

    Without a bearer token, a client that keeps cookies stays one owner, like a browser: the
    token goes into the session cookie (SameSite=Lax, so another site's POST never carries it).
    """
    token = bearer_token() or session.get("owner")
    if isinstance(token, str):
        return owner_of(token), None
    token = session["owner"] = new_owner_token()
    session.permanent = True
    return owner_of(token), token


def public(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the API shows it: no storage keys, no owner, plus links."""
    shown = {
        key: value for key, value in job.items() if not key.endswith("_key") and key != "owner"
    }
    shown["url"] = url_for("api.get_job", job_id=job["id"])
    shown["result_url"] = (
        url_for("api.get_result", job_id=job["id"]) if job["status"] == "done" else None
    )
    return shown


def read_upload(field: str = "file") -> list[tuple[str, bytes]]:
    """The uploaded files of one form field; 400 when there is none."""
    uploads = [item for item in request.files.getlist(field)]
    if not uploads:
        raise ApiError(400, f"send the image as multipart/form-data field {field!r}")
    return [(item.filename or "", item.read()) for item in uploads]


@api.errorhandler(ImageError)
def image_error(error: ImageError) -> tuple[Response, int]:
    return jsonify(error=error.message), error.status


@api.get("/filters")
def list_filters() -> Response:
    """The filter catalogue with each parameter's type, bounds and default."""
    return jsonify(
        filters=[
            {
                "name": name,
                "description": spec.description,
                "params": {
                    key: {
                        "type": param.kind.__name__,
                        "min": param.low,
                        "max": param.high,
                        "default": param.default,
                    }
                    for key, param in spec.params.items()
                },
            }
            for name, spec in FILTERS.items()
        ]
    )


@api.post("/images")
def create_image_job() -> tuple[Response, int, dict[str, str]]:
    """Upload one image with a filter pipeline: 201 done (small) or 202 queued (large)."""
    (filename, data), *extra = read_upload()
    if extra:
        raise ApiError(400, "send one file here; use /api/v1/batches for several")
    owner, new_token = creator()
    image = service().validate(data)
    steps = parse_pipeline(request.form.get("filters", ""))
    job = service().submit(
        data, filename, steps, request.form.get("mode", "auto"), image=image, owner=owner
    )
    status = 201 if job["status"] == "done" else 202
    shown = public(job) | ({"owner_token": new_token} if new_token else {})
    return jsonify(shown), status, {"Location": url_for("api.get_job", job_id=job["id"])}


@api.post("/batches")
def create_batch() -> tuple[Response, int]:
    """Upload several images with one pipeline; every job goes through the queue.

    All files are checked before any is stored, so a bad file rejects the whole batch."""
    uploads = read_upload()
    owner, new_token = creator()
    limit = service().limits.max_batch
    if len(uploads) > limit:
        raise ApiError(400, f"at most {limit} files per batch (MAX_BATCH_FILES)")
    images = []
    for filename, data in uploads:
        try:
            images.append(service().validate(data))
        except ImageError as error:
            raise ImageError(error.status, f"{filename or 'file'}: {error.message}") from None
    steps = parse_pipeline(request.form.get("filters", ""))
    batch_id = new_job_id()
    jobs: list[dict[str, Any]] = []
    try:
        for (filename, data), image in zip(uploads, images, strict=True):
            jobs.append(service().submit(data, filename, steps, "async", image, batch_id, owner))
    except BaseException:
        for job in jobs:
            service().discard(job["id"], [job["original_key"]])
        raise
    shown = {"batch_id": batch_id, "jobs": [public(job) for job in jobs]}
    return jsonify(shown | ({"owner_token": new_token} if new_token else {})), 202


@api.get("/jobs")
def list_jobs() -> Response:
    """The caller's newest jobs first (``limit`` 1 to 200, default 50)."""
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise ApiError(400, "limit must be a whole number between 1 and 200")
    return jsonify(jobs=[public(job) for job in service().recent(reader(), int(raw))])


@api.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    try:
        return jsonify(public(service().owned(job_id, reader())))
    except JobNotFound:
        raise ApiError(404, f"no job {job_id!r}") from None


@api.get("/jobs/<job_id>/result")
def get_result(job_id: str) -> Response:
    """The processed image (404 until the job is done)."""
    try:
        job, data = service().owned_result(job_id, reader())
    except JobNotFound:
        raise ApiError(404, f"no finished job {job_id!r}") from None
    extension = job["result_type"].rpartition("/")[2].replace("jpeg", "jpg")
    stem = job["filename"].rsplit(".", 1)[0] or "image"
    response = Response(data, mimetype=job["result_type"])
    response.headers["Content-Disposition"] = content_disposition(
        "inline", f"{stem}-processed.{extension}"
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
