"""HTML pages: the submission form with the recent jobs, a page per job, and the e-mailed
download link."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, redirect, render_template, url_for

from ..web import ApiError
from .api import service, submit_from_request, text_download
from .programs import BUILT_IN, INPUT_FORMATS
from .service import InputError, JobNotFound

pages = Blueprint("pages", __name__)


def form(error: str | None = None) -> str:
    return render_template(
        "index.html",
        jobs=service().recent(20),
        built_in=BUILT_IN,
        input_formats=INPUT_FORMATS,
        custom=service().limits.allow_custom_programs,
        error=error,
        idempotency_key=secrets.token_urlsafe(16),
    )


@pages.get("/")
def index() -> str:
    return form()


@pages.post("/")
def submit() -> Response | tuple[str, int]:
    try:
        job, _ = submit_from_request()
    except InputError as error:
        return form(error.message), error.status
    return redirect(url_for("pages.job", job_id=job["id"]), 303)


@pages.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    try:
        found = service().get(job_id)
    except JobNotFound:
        raise ApiError(404, "no such job") from None
    parts = [key.rpartition("/")[2] for key in found.get("outputs") or []]
    return render_template("job.html", job=found, parts=parts)


@pages.get("/download/<token>")
def download(token: str) -> Response:
    """The link from the e-mail: the whole result, while the link is valid."""
    try:
        found, data = service().redeem(token)
    except JobNotFound:
        raise ApiError(404, "this download link is not valid") from None
    except InputError as error:
        raise ApiError(error.status, error.message) from None
    return text_download(data, f"{found['job']}-{found['id']}.tsv")


@pages.get("/favicon.ico")
def favicon() -> Response:
    """A tiny icon so that browsers log no 404."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
        '<rect width="16" height="16" rx="3" fill="#2a6"/></svg>'
    )
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
