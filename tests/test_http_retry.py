"""The HTTP layer: which failures are retried, how long it waits, what the one-line errors say."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from forksync.errors import ForgeError, UpstreamError
from forksync.forges.http import Auth, HttpClient, RetryPolicy
from tests.standins import Reply, Request, StandIn, closed_port_url


class Api(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.items = [{"n": i} for i in range(250)]
        self.delay = 0.0
        self.route("GET", "/items", lambda req: self.paginate(req, self.items))
        self.route("GET", "/slow", self.slow)
        self.route("POST", "/things", lambda req: Reply(201, {"created": req.body}))
        self.route("GET", "/thing", lambda req: Reply(200, {"ok": True, "query": req.query}))
        self.route(
            "GET",
            "/moved",
            lambda req: Reply(301, {"message": "Moved Permanently"}, {"Location": "/thing?a=1"}),
        )
        self.route(
            "GET",
            "/away",
            lambda req: Reply(307, None, {"Location": self.url.replace("127.0.0.1", "localhost")}),
        )
        self.route("GET", "/gitlab-pages", self.gitlab_pages)
        self.route(
            "GET", "/bad-next", lambda req: Reply(200, [1], {"Link": '<http://localhost:1/x>; rel="next"'})
        )
        self.route(
            "GET",
            "/empty-loop",
            lambda req: Reply(200, [], {"Link": f'<{self.url}/empty-loop?page=2>; rel="next"'}),
        )

    def gitlab_pages(self, req: Request) -> Reply:
        """Pages announced only by ``x-next-page`` (GitLab without Link headers)."""
        page = int(req.query.get("page", 1))
        headers = {"x-next-page": str(page + 1) if page < 3 else ""}
        return Reply(200, [page * 10 + i for i in range(2)], headers)

    def slow(self, req: Request) -> Reply:
        delay, self.delay = self.delay, 0.0  # only the first call is slow
        time.sleep(delay)
        return Reply(200, {"ok": True})

    def _dispatch(self, request: Request) -> Reply:
        if request.path == "/slow":  # outside the state lock, so other requests are not held up
            return self.slow(request)
        return super()._dispatch(request)


@pytest.fixture
def api() -> Iterator[Api]:
    with Api() as server:
        yield server


def client(url: str, **kw: object) -> HttpClient:
    retry = RetryPolicy(sleep=lambda s: None, jitter=lambda: 0.0)
    return HttpClient(url, service="Test", retry=retry, **kw)  # type: ignore[arg-type]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    values = iter([0.0, 0.999, 0.5, 0.0, 0.0, 0.0])
    policy = RetryPolicy(base=1.0, cap=5.0, jitter=lambda: next(values))
    assert [round(policy.backoff(n), 3) for n in range(6)] == [0.5, 1.999, 3.0, 2.5, 2.5, 2.5]


def test_connection_refused_is_retried_then_fails_with_one_line() -> None:
    c = client(closed_port_url())
    with pytest.raises(ForgeError) as err:
        c.request("POST", "things", json={})  # never sent, so even a POST is retried
    assert "failed after 4 tries" in str(err.value) and "\n" not in str(err.value)
    assert len(c.retry.waits) == 3


def test_dropped_connection_retries_get_but_not_post(api: Api) -> None:
    api.fail("GET", "/thing", 0, drop=True)
    c = client(api.url)
    assert c.json("GET", "thing")["ok"] and len(c.retry.waits) == 1
    api.fail("POST", "/things", 0, drop=True)
    with pytest.raises(ForgeError, match="POST /things failed"):
        c.request("POST", "things", json={"a": 1})
    assert len(api.calls("POST", "/things")) == 1  # the POST may have been carried out: not repeated


def test_read_timeout_then_success(api: Api) -> None:
    api.delay = 0.5
    c = client(api.url, timeout=0.1)
    assert c.json("GET", "slow")["ok"]
    assert len(c.retry.waits) == 1 and len(api.calls("GET", "/slow")) == 2


def test_429_without_headers_backs_off(api: Api) -> None:
    api.fail("GET", "/thing", 429, {"message": "slow down"}, times=2)
    c = client(api.url)
    assert c.json("GET", "thing")["ok"]
    assert c.retry.waits == [0.5, 1.0]


def test_429_for_ever_gives_up_with_the_reason(api: Api) -> None:
    api.fail("GET", "/thing", 429, {"message": "slow down"}, times=99)
    with pytest.raises(ForgeError, match=r"rate limit still exceeded after 4 tries"):
        client(api.url).request("GET", "thing")


def test_gitlab_ratelimit_headers_are_honoured(api: Api) -> None:
    api.fail(
        "GET",
        "/thing",
        429,
        {"message": "Retry later"},
        {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(time.time()) + 10)},
    )
    c = client(api.url)
    c.request("GET", "thing")
    assert 9 <= c.retry.waits[0] <= 12


def test_403_without_rate_limit_is_a_permission_error_not_retried(api: Api) -> None:
    api.fail("GET", "/thing", 403, {"message": "Must have admin rights"}, {"x-ratelimit-remaining": "4999"})
    c = client(api.url)
    with pytest.raises(
        ForgeError, match=r"403 forbidden\); the token needs repo admin: Must have admin rights"
    ):
        c.request("GET", "thing", scope="repo admin")
    assert c.retry.waits == []


def test_401_names_the_token_source(api: Api) -> None:
    api.fail("GET", "/thing", 401, {"message": "Bad credentials"})
    c = client(api.url, auth=Auth({"Authorization": "Bearer abcdef123456"}, "MY_FORGE_TOKEN"))
    with pytest.raises(
        ForgeError, match=r"rejected the credentials \(401\) .* MY_FORGE_TOKEN: Bad credentials"
    ):
        c.request("GET", "thing")


def test_gitlab_style_validation_message_is_flattened(api: Api) -> None:
    api.fail("POST", "/things", 400, {"message": {"title": ["is too long"], "labels": ["is invalid"]}})
    with pytest.raises(ForgeError, match=r"\(400\): title is too long; labels is invalid"):
        client(api.url).request("POST", "things", json={})


def test_error_class_is_the_callers(api: Api) -> None:
    api.fail("GET", "/thing", 404, {"message": "Not Found"})
    with pytest.raises(UpstreamError, match="404"):
        client(api.url, error=UpstreamError).request("GET", "thing")


def test_allowed_status_is_returned(api: Api) -> None:
    api.fail("GET", "/thing", 404, {"message": "Not Found"})
    assert client(api.url).request("GET", "thing", allow=(404,)).status_code == 404


def test_link_pagination_follows_next_and_respects_limit(api: Api) -> None:
    c = client(api.url)
    assert [x["n"] for x in c.paginate("items")] == list(range(250))
    pages = api.calls("GET", "/items")
    assert len(pages) == 3 and pages[0].query == {"per_page": "100"} and pages[2].query["page"] == "3"
    assert len(list(c.paginate("items", limit=120))) == 120


def test_messages_carry_the_path_but_not_the_query(api: Api) -> None:
    api.fail("GET", "/thing", 404, {"message": "Not Found"})
    with pytest.raises(ForgeError) as err:
        client(api.url).request("GET", "thing?private_token=abc123abc123")
    assert "GET /thing (404)" in str(err.value) and "abc123" not in str(err.value)


def test_retry_after_as_http_date(api: Api) -> None:
    from email.utils import formatdate

    api.fail(
        "GET", "/thing", 429, {"message": "later"}, {"Retry-After": formatdate(time.time() + 20, usegmt=True)}
    )
    c = client(api.url)
    c.request("GET", "thing")
    assert 17 <= c.retry.waits[0] <= 21


def test_secondary_rate_limit_without_headers_waits_a_minute(api: Api) -> None:
    api.fail("GET", "/thing", 403, {"message": "You have exceeded a secondary rate limit. Please wait."})
    c = client(api.url)
    c.request("GET", "thing")
    assert c.retry.waits == [60.0]


def test_redirect_on_the_same_host_is_followed(api: Api) -> None:
    c = client(api.url)
    assert c.json("GET", "moved", params={"a": "1"}) == {"ok": True, "query": {"a": "1"}}


def test_redirect_to_another_host_is_refused(api: Api) -> None:
    c = client(api.url, auth=Auth({"PRIVATE-TOKEN": "glpat-notforthem12345"}, "GITLAB_TOKEN"))
    with pytest.raises(ForgeError, match=r"redirected GET /away to another host \(localhost\)"):
        c.request("GET", "away")
    assert len(api.calls("GET", "/thing")) == 0


def test_gitlab_x_next_page_pagination(api: Api) -> None:
    assert list(client(api.url).paginate("gitlab-pages")) == [10, 11, 20, 21, 30, 31]


def test_pagination_never_leaves_the_host_nor_loops(api: Api) -> None:
    with pytest.raises(ForgeError, match="pagination points to another host"):
        list(client(api.url).paginate("bad-next"))
    assert list(client(api.url).paginate("empty-loop")) == []
    assert len(api.calls("GET", "/empty-loop")) == 1
