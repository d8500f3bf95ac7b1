"""What both reference apps share on the web side: JSON logs, proxy headers, security headers,
health and readiness probes, the OpenAPI document and JSON errors for the API."""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, g, jsonify, request
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .backends import Backends, ConfigError, DependencyDown, Settings

API_PREFIX = "/api/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


# Who may ask /readyz by default: loopback, private ranges (the load balancers' subnets, the
# local target) and Google's health-check ranges (GCP probes come from these public addresses).
READYZ_ALLOW_DEFAULT = (
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7,"
    "35.191.0.0/16,130.211.0.0/22"
)


def networks(variable: str, value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(item.strip()) for item in value.split(",") if item.strip()]
    except ValueError as error:
        raise ConfigError(f"{variable}={value}: {error}") from None


class ReadinessCache:
    """The backends' answers, reused for a few seconds: a probe every second from each load
    balancer node would otherwise make live backend calls (an SMTP login) on every hit."""

    def __init__(self, checks: Callable[[], dict[str, Callable[[], Any]]], ttl: float) -> None:
        self.checks, self.ttl = checks, ttl
        self.lock = threading.Lock()
        self.results: dict[str, str] = {}
        self.expires = float("-inf")

    def get(self, log: logging.Logger) -> dict[str, str]:
        with self.lock:  # one probe at a time runs the checks; the others wait for its answer
            if monotonic() >= self.expires:
                self.results = self.run(log)
                self.expires = monotonic() + self.ttl
            return self.results

    def run(self, log: logging.Logger) -> dict[str, str]:
        results: dict[str, str] = {}
        for name, check in self.checks().items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:
                log.warning("readiness check failed", extra={"backend": name, "error": repr(error)})
                cause = error.__cause__ if isinstance(error, DependencyDown) else None
                results[name] = f"error: {type(cause or error).__name__}"
        return results


def safe_filename(name: str) -> str:
    """A display name with no path, no control characters and no shell or header specials."""
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = re.sub(r'[<>:"|?*;]', "_", name).strip(" .")
    return name[:120] or "upload"


def client_address(entry: str, with_port: bool) -> str | None:
    """The IP address in one X-Forwarded-For entry (``ip`` or ``ip:port``), or None."""
    entry = entry.strip()
    if with_port:
        host, colon, port = entry.rpartition(":")
        if not colon or not port.isdigit():
            return None
        entry = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return None


class TrustedProxies:
    """The client address and scheme as the load balancers in front of the app saw them.

    ``hops`` is how many X-Forwarded-For entries the trusted proxies append: one for AWS's ALB,
    Azure's Application Gateway and HAProxy, two for GCP's external Application LB (it appends
    ``<client>, <load balancer>``). Application Gateway writes ``ip:port``: the port is dropped,
    or every connection would be a new client to the rate limiter. Each of them sets
    X-Forwarded-Proto to one value, and none sets X-Forwarded-Host, so that header is not
    trusted (a client could otherwise choose the host of every URL the app builds).
    """

    def __init__(self, app: Any, hops: int, address_format: str) -> None:
        self.app = app
        self.with_port = address_format == "ip:port"
        self.fix = ProxyFix(self.normalise, x_for=hops, x_proto=1, x_host=0)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self.fix(environ, start_response)

    def normalise(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Keep only the address; a malformed entry counts as the proxy itself (limited, not
        spread over new buckets)."""
        peer = environ["werkzeug.proxy_fix.orig"]["REMOTE_ADDR"]
        forwarded = environ.get("REMOTE_ADDR")
        if forwarded != peer:
            environ["REMOTE_ADDR"] = client_address(forwarded or "", self.with_port) or peer
        return self.app(environ, start_response)


def content_disposition(kind: str, name: str) -> str:
    """``inline``/``attachment`` with an ASCII ``filename=`` for old clients and the exact name
    in ``filename*=UTF-8''…`` (RFC 6266): a header must stay Latin-1, or gunicorn answers 500."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()+,=@-]", "_", ascii_name).strip(" ._-")
    _stem, dot, extension = name.rpartition(".")
    if not ascii_name.strip("_") or ascii_name.strip("_") == extension:
        ascii_name = f"download.{extension}" if dot and extension.isascii() else "download"
    value = f'{kind}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line on stderr, for the platform's log shipper."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class ApiError(Exception):
    """An error answered with a status code and a JSON (or page) message saying what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX) or request.accept_mimetypes.best == (
        "application/json"
    )


def install_form_guard(app: Flask) -> None:
    """Refuse multipart bodies whose field names do not parse (werkzeug yields ``None`` keys,
    which crash flask-wtf's CSRF check with a 500). Register before CSRFProtect."""

    @app.before_request
    def reject_malformed_form() -> None:
        if request.method in {"POST", "PUT", "PATCH", "DELETE"} and any(
            not isinstance(key, str) for key in (*request.form.keys(), *request.files.keys())
        ):
            raise ApiError(400, "a form field has no valid name")


def probe_paths(readiness: str = "Readiness: every backend answers") -> dict[str, Any]:
    """The OpenAPI paths of /healthz and /readyz, which install_common serves in every app."""
    return {
        "/healthz": {
            "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
        },
        "/readyz": {
            "get": {
                "summary": readiness,
                "responses": {
                    "200": {"description": "ready"},
                    "503": {"description": "a backend is unavailable"},
                },
            }
        },
    }


def job_app(
    import_name: str,
    settings: Settings,
    *,
    api: Blueprint,
    pages: Blueprint,
    backends: Backends,
    openapi: dict[str, Any],
    extensions: dict[str, Any],
    max_content_length: int | None = None,
) -> Flask:
    """The app of a job service (image-processing, mapreduce) or of the fog-node dashboard: a
    JSON API exempt from CSRF (it authenticates by token), HTML pages with CSRF-protected forms,
    secure session cookies, and the common probes, logging and error pages. Requests are limited
    to ``max_content_length`` bytes (default: the upload limit)."""
    from flask import render_template
    from flask_wtf.csrf import CSRFProtect

    app = Flask(import_name, instance_path=str(settings.data_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=max_content_length or settings.max_upload_bytes,
        SESSION_COOKIE_SECURE=settings.flag("SESSION_COOKIE_SECURE", True),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_SSL_STRICT=False,
    )
    app.extensions["settings"] = settings
    app.extensions.update(extensions)
    install_form_guard(app)
    CSRFProtect(app).exempt(api)
    app.register_blueprint(api)
    app.register_blueprint(pages)
    install_common(
        app,
        settings,
        backends,
        openapi,
        lambda status, message: render_template("error.html", status=status, message=message),
    )
    return app


def service_app(
    import_name: str,
    settings: Settings,
    build_service: Callable[[Settings], Any],
    extension: str,
    blueprints: tuple[Blueprint, Blueprint],
    openapi: dict[str, Any],
) -> Flask:
    """`job_app` (API and pages `blueprints`) of a service object that holds the objects, queue
    and kv backends (image-processing, mapreduce), kept in ``app.extensions[extension]``.
    Logging is configured before the backends open, so that their messages are JSON too."""
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = build_service(settings)
    backends = Backends(objects=service.objects, queue=service.queue, kv=service.kv)
    api, pages = blueprints
    return job_app(
        import_name,
        settings,
        api=api,
        pages=pages,
        backends=backends,
        openapi=openapi,
        extensions={extension: service},
    )


def install_common(
    app: Flask,
    settings: Settings,
    backends: Backends,
    openapi: dict[str, Any],
    render_error: Callable[[int, str], Any],
) -> None:
    """Wire the probes, logging, headers and error handling into an app."""
    address_format = settings.extra.get("PROXY_ADDRESS_FORMAT", "ip").strip() or "ip"
    if address_format not in {"ip", "ip:port"}:
        raise ConfigError(f"PROXY_ADDRESS_FORMAT={address_format}: use ip or ip:port")
    if settings.proxy_hops:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.proxy_hops, address_format)  # type: ignore[method-assign]
    access_log = logging.getLogger(f"{settings.app_name}.access")

    def start_timer() -> None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex

    # First of all before-request hooks: the CSRF check, the form guard and the rate limiter
    # may refuse the request, and its log line still needs an id and its own duration.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path not in {"/healthz", "/readyz"}:
            access_log.info(
                "request",
                extra={
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(
                        (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
                    ),
                    "remote_addr": request.remote_addr,
                },
            )
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers. No backend calls, plain HTTP is fine."""
        return jsonify(status="ok")

    readiness = ReadinessCache(backends.checks, settings.number("READYZ_CACHE_SECONDS", 10, 0, 300))
    readyz_allow = networks(
        "READYZ_ALLOW", settings.extra.get("READYZ_ALLOW", READYZ_ALLOW_DEFAULT)
    )

    def peer() -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return None

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        """Readiness: every backend answers; 503 names the ones that do not. Asked from the
        private network (the load balancer, the operators) only, and cached briefly."""
        address = peer()
        if address is None or not any(address in network for network in readyz_allow):
            return jsonify(error="readiness is answered on the private network only"), 403
        results = readiness.get(app.logger)
        down = sorted(name for name, value in results.items() if value != "ok")
        if not down:
            return jsonify(status="ready", checks=results), 200
        return jsonify(status="unavailable", unavailable=down, checks=results), 503

    @app.get("/openapi.json")
    def openapi_document() -> Response:
        return jsonify(openapi)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Any:
        if wants_json():
            return jsonify(error=error.message), error.status
        return render_error(error.status, error.message), error.status

    @app.errorhandler(DependencyDown)
    def dependency_down(error: DependencyDown) -> Any:
        """A backend outage is the service's, not the request's: 503 with Retry-After, and
        a message that says the same request will work again, never a 500."""
        app.logger.warning(
            "dependency unavailable",
            extra={"dependency": error.dependency, "error": repr(error.__cause__)[:300]},
        )
        message = f"{error}; try again in {error.retry_after} seconds"
        if wants_json():
            response = jsonify(error=message, unavailable=error.dependency)
        else:
            response = Response(render_error(503, message), mimetype="text/html")
        response.status_code = 503
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            limit_mb = settings.max_upload_bytes / 1024 / 1024
            message = f"request body exceeds the {limit_mb:g} MB limit (MAX_UPLOAD_MB)"
        if status == 429:
            message = f"too many attempts (limit: {error.description}); try again later"
        if wants_json():
            response = jsonify(error=message)
        else:
            response = Response(render_error(status, message), mimetype="text/html")
        response.status_code = status
        for header in ("Allow", "Retry-After", "Location"):
            if error.get_response().headers.get(header):
                response.headers[header] = error.get_response().headers[header]
        return response
