"""HTML pages: an upload form with the filter choices and a preview, the recent jobs with their
thumbnails, and one page per job that follows its state (``static/job.js`` polls the JSON API)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from ..web import ApiError
from .api import service
from .filters import FILTERS, ImageError, parse_pipeline
from .service import JobNotFound, new_owner_token, owner_of
from .thumbnails import THUMBNAIL_SIZE, THUMBNAIL_TYPE, thumbnail

pages = Blueprint("pages", __name__)


def steps_from_form() -> list[dict[str, Any]]:
    """Checked filters in catalogue order, with their non-empty parameter fields."""
    chosen = set(request.form.getlist("filter"))
    steps = []
    for name, spec in FILTERS.items():
        if name in chosen:
            step: dict[str, Any] = {"name": name}
            for key in spec.params:
                value = request.form.get(f"{name}.{key}", "").strip()
                if value:
                    step[key] = value
            steps.append(step)
    return steps


def browser_owner(create: bool = False) -> str:
    """This browser's owner digest; its token lives in the signed session cookie."""
    token = session.get("owner")
    if not isinstance(token, str) and create:
        token = session["owner"] = new_owner_token()
        session.permanent = True
    return owner_of(token) if isinstance(token, str) else ""


def own_jobs() -> list[dict[str, Any]]:
    owner = browser_owner()
    return service().recent(owner, 20) if owner else []


@pages.get("/")
def index() -> str:
    return render_template(
        "index.html", filters=FILTERS, jobs=own_jobs(), thumbnail_size=THUMBNAIL_SIZE
    )


@pages.post("/")
def upload() -> Response | tuple[str, int]:
    file = request.files.get("file")
    try:
        if file is None:
            raise ImageError(400, "choose an image file")
        data = file.read()
        image = service().validate(data)
        steps = steps_from_form()
        if not steps:
            raise ImageError(400, "choose at least one filter")
        job = service().submit(
            data,
            file.filename or "",
            parse_pipeline(steps),
            image=image,
            owner=browser_owner(create=True),
        )
    except ImageError as error:
        page = render_template(
            "index.html",
            filters=FILTERS,
            jobs=own_jobs(),
            thumbnail_size=THUMBNAIL_SIZE,
            error=error.message,
        )
        return page, error.status
    return redirect(url_for("pages.job", job_id=job["id"]), 303)


@pages.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    try:
        found = service().owned(job_id, browser_owner())
    except JobNotFound:
        raise ApiError(404, "no such job") from None
    return render_template("job.html", job=found, thumbnail_size=THUMBNAIL_SIZE)


@pages.get("/jobs/<job_id>/thumbnails/<kind>")
def job_thumbnail(job_id: str, kind: str) -> Response:
    """A small WebP of the original or the result (404 until the result exists)."""
    try:
        data = thumbnail(service(), service().owned(job_id, browser_owner()), kind)
    except JobNotFound:
        raise ApiError(404, f"no {kind} thumbnail for job {job_id!r}") from None
    response = Response(data, mimetype=THUMBNAIL_TYPE)
    # The images of a job never change: the browser keeps the thumbnail for a day.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response
