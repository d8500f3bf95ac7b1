"""A scripted HTTP server standing in for a Mastodon instance and a feed host: no real one is
reachable from the test machines, and the tests need exact 429/500/garbage answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Remote:
    """``routes[path]`` is a list of answers given in turn; the last one repeats."""

    url: str = ""
    routes: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def answer(self, path: str) -> Answer:
        self.requests.append(path)
        answers = self.routes.get(path.split("?", 1)[0])
        if not answers:
            return 404, {}, b"not found"
        return answers.pop(0) if len(answers) > 1 else answers[0]


@contextmanager
def serve() -> Iterator[Remote]:
    remote = Remote()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = remote.answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    remote.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield remote
    finally:
        server.shutdown()
        server.server_close()
