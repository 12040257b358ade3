"""A request for a key another worker owns is forwarded; an owner that does not answer is a 503."""

from types import SimpleNamespace

import pytest
from yarl import URL

from web.routing import FORWARDED_HEADER, OwnerUnavailable, forward, other_owners_parts

pytestmark = pytest.mark.usefixtures("built_app")


class DyingOwner:
    """An HTTP client whose request fails as aiohttp's did when the owner was killed mid-answer."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def request(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize("error", [
    AttributeError("'NoneType' object has no attribute 'getall'"),
    ConnectionResetError("reset by peer"),
])
async def test_an_owner_that_dies_while_answering_is_a_503_that_names_it(monkeypatch, built_app, error):
    monkeypatch.setattr(type(built_app), "http_client", DyingOwner(error), raising=False)
    request = SimpleNamespace(method="POST", path="/v1/orders", query={}, headers={})
    with pytest.raises(OwnerUnavailable) as raised:
        await forward(None, request, URL("http://127.0.0.1:1"), b"{}", timeout=1)
    assert raised.value.status == 503
    assert raised.value.details["owner"] == "http://127.0.0.1:1"
    assert not raised.value.retryable  # a POST the owner may have seen is not sent again


class Owners:
    """An HTTP client whose workers answer GETs with (status, JSON) by host:port."""

    def __init__(self, answers: dict[str, tuple[int, dict]]) -> None:
        self.answers, self.asked = answers, []

    def get(self, url, headers, timeout):
        self.asked.append((url, headers))
        status, body = self.answers[f"{url.host}:{url.port}"]
        return _Answer(status, body)


class _Answer:
    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def json(self):
        return self.body


def owners(monkeypatch, built_app, answers) -> Owners:
    client = Owners(answers)
    monkeypatch.setattr(type(built_app), "http_client", client, raising=False)
    me = str(built_app.conf.canonical_url)
    monkeypatch.setattr(built_app.router, "table_metadata", lambda name: {
        me: {}, "http://127.0.0.1:7001": {}, "http://127.0.0.1:7002": {}})
    return client


async def test_a_listing_gathers_every_other_owners_part_asked_to_answer_for_itself(monkeypatch, built_app):
    client = owners(monkeypatch, built_app, {
        "127.0.0.1:7001": (200, {"inventory": [{"product": "A"}]}),
        "127.0.0.1:7002": (200, {"inventory": [{"product": "B"}, {"product": "C"}]})})
    parts = await other_owners_parts(
        SimpleNamespace(name="stock_reservations"), "/v1/inventory", {}, "inventory", timeout=1)
    assert sorted(item["product"] for item in parts) == ["A", "B", "C"]
    assert all(FORWARDED_HEADER in headers for _, headers in client.asked)  # not passed on again
    assert {url.port for url, _ in client.asked} == {7001, 7002}  # not this worker


async def test_a_listing_with_an_owner_that_answers_an_error_is_a_503_never_partial(monkeypatch, built_app):
    owners(monkeypatch, built_app, {
        "127.0.0.1:7001": (200, {"inventory": [{"product": "A"}]}),
        "127.0.0.1:7002": (500, {"error": "boom"})})
    with pytest.raises(OwnerUnavailable) as raised:
        await other_owners_parts(
            SimpleNamespace(name="stock_reservations"), "/v1/inventory", {}, "inventory", timeout=1)
    assert raised.value.status == 503 and raised.value.details == {"owner": "http://127.0.0.1:7002"}
