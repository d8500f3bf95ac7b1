"""HTML pages: register, login, logout, profile, files, admin. Every form carries a CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..web import ApiError
from .auth import admin_required, current_user, drive, is_admin, log_in, log_out, login_required
from .files import file_response

pages = Blueprint("pages", __name__)


# Names people know for the common types; anything else reads as "<EXTENSION> file".
KINDS = {
    "application/pdf": "PDF document",
    "application/zip": "ZIP archive",
    "application/json": "JSON",
    "text/plain": "Text",
    "text/csv": "CSV table",
    "text/html": "HTML page",
}


def kind_of(content_type: str, name: str) -> str:
    """What a person calls the file: "PNG image", "PDF document", "ZIP archive"..."""
    extension = name.rpartition(".")[2].upper() if "." in name else ""
    major = content_type.partition("/")[0]
    if content_type in KINDS:
        return KINDS[content_type]
    if major in {"image", "audio", "video"} and extension:
        return f"{extension} {major}"
    return f"{extension} file" if extension else "File"


def percent_of(used: int, quota: int) -> int:
    """Whole percent of the quota used (100 and more when full)."""
    return 100 if quota <= 0 else int(used * 100 // quota)


@pages.app_template_filter("isotime")
def isotime(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@pages.app_template_filter("shorttime")
def shorttime(timestamp: float) -> str:
    """UTC, the same for every visitor and every app server."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


@pages.app_context_processor
def template_globals() -> dict[str, object]:
    return {
        "user": current_user(),
        "is_admin": is_admin(current_user()),
        "kind_of": kind_of,
        "percent_of": percent_of,
        "max_upload_bytes": current_app.config["MAX_CONTENT_LENGTH"],
    }


def local_target(target: str | None) -> str:
    """Only redirect to a path on this site (no open redirect)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("pages.index")


@pages.route("/register", methods=["GET", "POST"])
def register() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("register.html")
    try:
        user = drive().register(
            request.form.get("username", ""),
            request.form.get("email", ""),
            request.form.get("password", ""),
        )
    except ApiError as error:
        return render_template("register.html", error=error.message), error.status
    current_app.extensions["welcome"](user)
    log_in(user)
    return redirect(url_for("pages.index"), 303)


@pages.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html")
    user = drive().authenticate(request.form.get("username", ""), request.form.get("password", ""))
    if user is None:
        return render_template("login.html", error="wrong username or password"), 401
    log_in(user)
    return redirect(local_target(request.args.get("next")), 303)


@pages.post("/logout")
def logout() -> Response:
    """End this session; the form field ``everywhere`` ends all of the user's sessions."""
    log_out(everywhere=bool(request.form.get("everywhere")))
    return redirect(url_for("pages.login"), 303)


@pages.get("/")
@login_required
def index() -> str:
    user = current_user()
    return render_template("files.html", files=drive().files(user), used=drive().used_bytes(user))


@pages.post("/files")
@login_required
def upload() -> Response | tuple[str, int]:
    user = current_user()
    file = request.files.get("file")
    try:
        if file is None:
            raise ApiError(400, "choose a file")
        drive().upload(user, file.filename or "", file.read())
    except ApiError as error:
        page = render_template(
            "files.html",
            files=drive().files(user),
            used=drive().used_bytes(user),
            error=error.message,
        )
        return page, error.status
    flash("uploaded")
    return redirect(url_for("pages.index"), 303)


@pages.get("/files/<file_id>")
@login_required
def view(file_id: str) -> Response:
    row, data = drive().content(current_user(), file_id)
    return file_response(row, data, download=request.args.get("download") == "1")


@pages.post("/files/<file_id>/delete")
@login_required
def delete(file_id: str) -> Response:
    drive().delete(current_user(), file_id)
    flash("deleted")
    return redirect(url_for("pages.index"), 303)


@pages.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> str | tuple[str, int]:
    user = current_user()
    used = drive().used_bytes(user)
    if request.method == "GET":
        return render_template("profile.html", used=used)
    try:
        drive().change_password(
            user, request.form.get("current_password", ""), request.form.get("new_password", "")
        )
    except ApiError as error:
        return render_template("profile.html", used=used, error=error.message), error.status
    log_in(user)  # every other session ended with the old password; this one goes on
    return render_template("profile.html", used=used, message="password changed")


@pages.get("/admin")
@admin_required
def admin() -> str:
    return render_template("admin.html", users=drive().users_with_usage())
