"""The JSON API (``/api/v1``), described by ``/openapi.json``. No cookies, so no CSRF token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from ..web import ApiError
from .programs import BUILT_IN, INPUT_FORMATS
from .service import InputError, JobNotFound, JobService

api = Blueprint("api", __name__, url_prefix="/api/v1")


def service() -> JobService:
    return current_app.extensions["mapreduce_service"]


def public(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the API shows it: no storage keys or e-mail address, plus links."""
    shown = {key: job[key] for key in job if key not in {"email", "outputs", "inputs"}}
    shown["inputs"] = [{"name": item["name"], "size": item["size"]} for item in job["inputs"]]
    shown["url"] = url_for("api.get_job", job_id=job["id"])
    parts = [key.rpartition("/")[2] for key in job.get("outputs") or []]
    shown["results"] = [
        {"name": part, "url": url_for("api.get_part", job_id=job["id"], part=part)}
        for part in parts
    ]
    shown["result_url"] = (
        url_for("api.get_result", job_id=job["id"]) if job["status"] == "succeeded" else None
    )
    return shown


def read_files(field: str) -> list[tuple[str, bytes]]:
    return [(item.filename or "input", item.read()) for item in request.files.getlist(field)]


def read_program(field: str) -> bytes | None:
    item = request.files.get(field)
    return item.read() if item is not None else None


def submit_from_request() -> tuple[dict[str, Any], bool]:
    """Shared by the API and the form: the same checks and the same storage."""
    return service().submit(
        read_files("input"),
        request.form.get("job", "").strip(),
        input_format=request.form.get("input_format", "documents").strip(),
        email=request.form.get("email", "").strip(),
        mapper=read_program("mapper"),
        reducer=read_program("reducer"),
        idempotency_key=request.headers.get("Idempotency-Key", "")
        or request.form.get("idempotency_key", ""),
    )


@api.errorhandler(InputError)
def input_error(error: InputError) -> tuple[Response, int]:
    return jsonify(error=error.message), error.status


@api.get("/programs")
def list_programs() -> Response:
    """The built-in jobs, the input formats and whether custom programs are allowed."""
    return jsonify(
        jobs=[{"name": name, "description": text} for name, text in BUILT_IN.items()],
        input_formats=[{"name": name, "description": text} for name, text in INPUT_FORMATS.items()],
        custom_programs=service().limits.allow_custom_programs,
    )


@api.post("/jobs")
def create_job() -> tuple[Response, int, dict[str, str]]:
    """Submit a job: 202 queued, or 200 with the first job for a repeated Idempotency-Key."""
    job, created = submit_from_request()
    headers = {"Location": url_for("api.get_job", job_id=job["id"])}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(public(job)), 202 if created else 200, headers


@api.get("/jobs")
def list_jobs() -> Response:
    """The newest jobs first (``limit`` 1 to 200, default 50)."""
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise ApiError(400, "limit must be a whole number between 1 and 200")
    return jsonify(jobs=[public(job) for job in service().recent(int(raw))])


@api.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    try:
        return jsonify(public(service().get(job_id)))
    except JobNotFound:
        raise ApiError(404, f"no job {job_id[:60]!r}") from None


def text_download(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="text/tab-separated-values")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@api.get("/jobs/<job_id>/result")
def get_result(job_id: str) -> Response:
    """Every part file concatenated (404 until the job has succeeded)."""
    try:
        return text_download(service().result(job_id), f"{job_id}.tsv")
    except JobNotFound:
        raise ApiError(404, f"no succeeded job {job_id[:60]!r}") from None


@api.get("/jobs/<job_id>/results/<part>")
def get_part(job_id: str, part: str) -> Response:
    try:
        return text_download(service().output(job_id, part), f"{job_id}-{part}.tsv")
    except JobNotFound:
        raise ApiError(404, f"no result {part[:40]!r} for job {job_id[:60]!r}") from None
