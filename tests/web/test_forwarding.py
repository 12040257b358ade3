"""A request for a key another worker owns is forwarded; an owner that does not answer is a 503."""

from types import SimpleNamespace

import pytest
from yarl import URL

from web.routing import OwnerUnavailable, forward

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
    request = SimpleNamespace(method="POST", path="/v1/orders", query={})
    with pytest.raises(OwnerUnavailable) as raised:
        await forward(None, request, URL("http://127.0.0.1:1"), b"{}", timeout=1)
    assert raised.value.status == 503
    assert raised.value.details["owner"] == "http://127.0.0.1:1"
    assert not raised.value.retryable  # a POST the owner may have seen is not sent again
