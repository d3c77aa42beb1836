"""Stand-in servers that tests start on 127.0.0.1: real HTTP, real JSON, state kept in memory.

``StandIn`` is the shared machinery: routes by method and path pattern, a log of every request,
injected faults (status, headers, body, how many times) and Link-header pagination. The GitHub,
GitLab and webhook stand-ins add their own routes and state on top.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit


@dataclass
class Request:
    method: str
    path: str  # as sent, still percent-encoded (GitLab's project ids are "group%2Fproject")
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    body: Any = None  # parsed JSON, when the body is JSON


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes or str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    reply: Reply
    times: int = 1
    drop: bool = False  # close the connection without answering


Handler = Callable[..., Reply]


class StandIn:
    """Subclasses register routes in ``__init__`` with ``self.route(method, pattern, handler)``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.exchanges: list[tuple[Request, Reply]] = []  # every answered request with its reply
        self.faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        drop: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with this status instead of serving them."""
        with self.lock:
            self.faults.append(
                Fault(method, re.compile(path), Reply(status, body, headers or {}), times, drop)
            )

    def calls(self, method: str, path: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(path, r.path)]

    # -- to override ----------------------------------------------------------------------
    def authorize(self, request: Request) -> Reply | None:
        """None to let the request through, or the reply refusing it."""
        return None

    # -- helpers ---------------------------------------------------------------------------
    def paginate(self, request: Request, items: list[Any], default: int = 30, cap: int = 100) -> Reply:
        """One page of ``items`` with a Link header, as GitHub and GitLab send it."""
        per_page = min(cap, int(request.query.get("per_page", default)))
        page = max(1, int(request.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            query = urlencode({**request.query, "page": n, "per_page": per_page})
            return f'<{self.url}{request.path}?{query}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        headers.update({"x-total": str(len(items)), "x-page": str(page)})
        if page < last:
            headers["x-next-page"] = str(page + 1)
        return Reply(200, chunk, headers)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        request = Request(
            h.command,
            parts.path,
            dict(parse_qsl(parts.query)),
            {k.lower(): v for k, v in h.headers.items()},
            raw,
        )
        if raw and "json" in request.headers.get("content-type", ""):
            try:
                request.body = json.loads(raw)
            except ValueError:
                request.body = None
        with self.lock:
            self.requests.append(request)
            reply = self._fault(request)
        if reply == "drop":
            h.close_connection = True
            h.connection.close()
            return
        if reply is None:
            reply = self.authorize(request) or self._dispatch(request)
        with self.lock:
            self.exchanges.append((request, reply))
        self._send(h, reply)

    def _fault(self, request: Request) -> Reply | str | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == request.method and fault.path.search(request.path):
                fault.times -= 1
                return "drop" if fault.drop else fault.reply
        return None

    def _dispatch(self, request: Request) -> Reply:
        for method, pattern, handler in self._routes:
            m = pattern.match(request.path)
            if m and method == request.method:
                with self.lock:
                    return handler(request, **{k: unquote(v) for k, v in m.groupdict().items()})
        return Reply(404, {"message": "Not Found"})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        elif isinstance(reply.body, str):
            data, ctype = reply.body.encode(), "text/plain; charset=utf-8"
        elif reply.body is None and reply.status == 204:
            data, ctype = b"", ""
        else:
            data, ctype = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        h.send_response(reply.status)
        if ctype:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused), for 'server down' tests."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
