"""The one HTTP layer of forksync's forge and notifier clients: retries, rate limits, errors.

Every failure becomes a one-line ``ForksyncError`` (``ForgeError`` by default) with secrets
redacted. Retries are bounded and use exponential backoff with full jitter; a request that
may already have been carried out (a POST that got a 500 or a read timeout) is not repeated,
so a retry never opens a second pull request or posts a comment twice. Time (clock, sleep,
jitter) is injectable so tests run without waiting.
"""

from __future__ import annotations

import functools
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .. import secrets
from ..errors import ForgeError, ForksyncError

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"})
# Gateway errors: the request did not reach the application, so even a POST is safe to repeat.
_GATEWAY = frozenset({502, 503, 504})
_REDIRECTS = frozenset({301, 302, 307, 308})  # a renamed or transferred repository


@dataclass
class RetryPolicy:
    """How many times and how long to retry; every wait goes through ``sleep``."""

    attempts: int = 4  # total tries, the first included
    base: float = 1.0  # first backoff, doubled each retry
    cap: float = 30.0  # longest single backoff
    max_wait: float = 120.0  # longest rate-limit wait before giving up with the reset time
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    jitter: Callable[[], float] = random.random  # in [0, 1): full jitter
    waits: list[float] = field(default_factory=list)  # every wait taken, for reports and tests

    def backoff(self, retry: int) -> float:
        return float(min(self.cap, self.base * 2**retry) * (0.5 + self.jitter() / 2))

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.sleep(seconds)


@dataclass(frozen=True)
class Auth:
    """Headers carrying a token, and where the token came from (named in a 401 message)."""

    headers: Mapping[str, str]
    source: str  # e.g. "GITHUB_TOKEN", "the GitHub App installation token"

    def __post_init__(self) -> None:
        for value in self.headers.values():
            secrets.register(value.split(" ", 1)[-1])


NO_AUTH = Auth({}, "no token")


class HttpClient:
    """A JSON API at ``base_url``: ``request`` for one call, ``paginate`` to follow Link headers."""

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        auth: Auth = NO_AUTH,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        error: type[ForksyncError] = ForgeError,
        headers: Mapping[str, str] | None = None,
        secret_path: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service  # "GitHub", "GitLab", "Slack": names the far side in messages
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.error = error
        self.secret_path = secret_path  # webhook URLs carry their credential in the path: name the host only
        sent = {"User-Agent": "forksync", "Accept": "application/json", **(headers or {}), **auth.headers}
        self._client = httpx.Client(headers=sent, timeout=timeout, follow_redirects=False, verify=_tls())

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        allow: tuple[int, ...] = (),
        scope: str = "",
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or one whose status is in ``allow``.

        ``scope`` names the permission the call needs, quoted in a 403 message.
        """
        url = self.url(path)
        method = method.upper()
        what = f"{method} {httpx.URL(url).host if self.secret_path else _short(url)}"
        retries = redirects = 0
        query = params
        while True:
            try:
                resp = self._client.request(method, url, json=json, params=query)
            except httpx.TransportError as exc:
                # A connect error means nothing was sent; anything later may have been carried out.
                safe = method in _IDEMPOTENT or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if safe and retries + 1 < self.retry.attempts:
                    self.retry.wait(self.retry.backoff(retries))
                    retries += 1
                    continue
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                tries = f" after {retries + 1} tries" if retries else ""
                message = f"{self.service} request {what} {kind}{tries}: {exc or type(exc).__name__}"
                raise self._fail(message) from None
            status = resp.status_code
            if status in _REDIRECTS and resp.headers.get("location") and redirects < 5:
                # Followed here, not by httpx: a token header must never go to another host.
                target = resp.url.join(resp.headers["location"])
                if target.host != resp.url.host or target.scheme != resp.url.scheme:
                    raise self._fail(f"{self.service} redirected {what} to another host ({target.host})")
                url, query, redirects = str(target), None, redirects + 1  # the location carries its query
                continue
            if status < 400 or status in allow:
                return resp
            limited = _rate_limit_wait(resp, self.retry.clock())
            if limited is not None or status == 429:
                wait = limited if limited is not None else self.retry.backoff(retries)
                if wait > self.retry.max_wait:
                    raise self._fail(_exhausted(self.service, resp, wait, self.retry.clock()))
                if retries + 1 < self.retry.attempts:
                    self.retry.wait(wait)
                    retries += 1
                    continue
                raise self._fail(
                    f"{self.service} rate limit still exceeded after {retries + 1} tries ({what})"
                )
            retryable = status >= 500 and (method in _IDEMPOTENT or status in _GATEWAY)
            if retryable and retries + 1 < self.retry.attempts:
                self.retry.wait(self.retry.backoff(retries))
                retries += 1
                continue
            raise self._fail(self._describe(resp, what, scope, retries))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise self._fail(
                f"{self.service} answered {method} {_short(resp.request.url)} with non-JSON"
            ) from None

    def paginate(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        limit: int = 10_000,
        scope: str = "",
    ) -> Iterator[Any]:
        """Every item of a list endpoint, following ``Link: <…>; rel="next"`` (GitHub and GitLab)."""
        query: dict[str, str | int] = {"per_page": 100, **(params or {})}
        origin = httpx.URL(self.url(path)).host
        url: str | None = self.url(path)
        visited: set[str] = set()
        seen = 0
        while url:
            resp = self.request("GET", url, params=query if not visited else None, scope=scope)
            visited.add(str(resp.request.url))
            page = resp.json()
            if not isinstance(page, list):
                raise self._fail(f"{self.service} answered GET {_short(url)} with a non-list page")
            for item in page:
                yield item
                seen += 1
                if seen >= limit:
                    return
            url = _next_page(resp)
            if not page or url in visited:
                return  # an empty page or a loop: the list is done, whatever the header says
            if url and httpx.URL(url).host != origin:
                # The token is sent with every request: never to a host the API did not start on.
                raise self._fail(f"{self.service} pagination points to another host ({httpx.URL(url).host})")

    # -- errors ----------------------------------------------------------------------
    def _fail(self, message: str) -> ForksyncError:
        return self.error(secrets.redact(message))

    def _describe(self, resp: httpx.Response, what: str, scope: str, retries: int) -> str:
        status = resp.status_code
        detail = api_message(resp)
        tail = f": {detail}" if detail else ""
        if status == 401:
            return (
                f"{self.service} rejected the credentials (401) for {what}; check the token in {self.auth.source}"
                f"{tail}"
            )
        if status == 403:
            need = resp.headers.get("x-accepted-github-permissions") or scope
            hint = f"; the token needs {need}" if need else "; check the token's permissions"
            return f"{self.service} refused {what} (403 forbidden){hint}{tail}"
        if status == 404:
            return (
                f"{self.service} found nothing at {what} (404){tail}; check the name and the token's access"
            )
        if status in (400, 409, 422):
            return f"{self.service} rejected {what} ({status}){tail}"
        tries = f" after {retries + 1} tries" if retries else ""
        return f"{self.service} failed {what} ({status}){tries}{tail}"


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (~40 ms)."""
    return httpx.create_ssl_context()


def api_message(resp: httpx.Response) -> str:
    """The API's own explanation (GitHub's ``message`` + ``errors``, GitLab's ``message``/``error``)."""
    try:
        data = resp.json()
    except ValueError:
        return _one_line(resp.text)[:300]
    if not isinstance(data, dict):
        return _one_line(str(data))[:300]
    parts: list[str] = []
    message = data.get("message") or data.get("error")
    if isinstance(message, dict | list):  # GitLab: {"message": {"title": ["is too long"]}}
        message = _flatten(message)
    if message:
        parts.append(str(message))
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            text = err.get("message") or " ".join(
                str(err[k]) for k in ("resource", "field", "code") if err.get(k)
            )
            parts.append(str(text))
        else:
            parts.append(str(err))
    return _one_line("; ".join(parts))[:500]


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    return str(value)


def _rate_limit_wait(resp: httpx.Response, now: float) -> float | None:
    """Seconds to wait when the response says a rate limit is exhausted, else None."""
    if resp.status_code not in (403, 429):
        return None
    headers = resp.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:  # the HTTP-date form
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    if remaining is not None and remaining.strip() == "0":
        reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
        try:
            return max(0.0, float(reset) - now) + 1.0 if reset is not None else 60.0
        except ValueError:
            return 60.0
    if resp.status_code == 403 and "secondary rate limit" in resp.text.lower():
        return 60.0  # GitHub: without a retry-after, wait at least a minute
    return None


def _next_page(resp: httpx.Response) -> str | None:
    """The next page: the Link header, else GitLab's ``x-next-page`` number."""
    link = resp.links.get("next", {}).get("url")
    if link:
        return str(resp.url.join(link))
    number = resp.headers.get("x-next-page", "").strip()
    return str(resp.url.copy_merge_params({"page": number})) if number.isdigit() else None


def _exhausted(service: str, resp: httpx.Response, wait: float, now: float) -> str:
    at = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{service} rate limit exhausted ({resp.status_code}); it resets at {at} (in {round(wait)} s)"


def _short(url: str | httpx.URL) -> str:
    """The path of a URL without its query (which may carry tokens)."""
    parsed = httpx.URL(str(url))
    return parsed.path


def _one_line(text: str) -> str:
    return " ".join(text.split())
