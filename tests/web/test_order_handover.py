"""A POST /v1/orders whose order id moves to another worker while it waits is handed over to
that worker with its request id; the new owner answers as the first would have (web/orders.py)."""

import json
from types import SimpleNamespace

import pytest
from yarl import URL

import web.orders
from models.records import PlaceOrder
from models.requests import NewOrder
from models.state import OrderRecord
from tables.orders import order_states
from web.orders import OrdersView

pytestmark = pytest.mark.usefixtures("built_app")

NEW_OWNER = URL("http://127.0.0.1:1")


def new_order(order_id: str, quantity: int = 1):
    body = {"id": order_id, "customerId": 7, "product": "JUMPERS", "quantity": quantity, "price": 5.0}
    asked = NewOrder.model_validate(body)
    return json.dumps(body).encode(), asked, asked.to_order()


@pytest.fixture()
def commands(monkeypatch) -> list[PlaceOrder]:
    """The PlaceOrder commands the view sends (nothing reaches a broker)."""
    sent = []

    async def publish(topic, key, value, timeout, timestamp=None):
        sent.append(PlaceOrder.from_bytes(value))

    monkeypatch.setattr(web.orders, "publish", publish)
    monkeypatch.setattr(web.orders, "OWNER_CHECK_S", 0.05)
    return sent


async def test_a_post_whose_order_id_moves_while_it_waits_is_handed_to_the_new_owner(monkeypatch, commands):
    handed = []

    async def forward(view, request, owner, body, timeout, request_id=None):
        handed.append((owner, body, timeout, request_id))
        return "the new owner's answer"

    owners = iter([None, NEW_OWNER])  # this worker still owns it at the first look, then not
    monkeypatch.setattr(web.orders, "other_owner", lambda table, key: next(owners))
    monkeypatch.setattr(web.orders, "forward", forward)
    body, asked, order = new_order("moving-1")

    answer = await OrdersView._place(None, SimpleNamespace(), body, asked, order, 30.0, "request-1")

    assert answer == "the new owner's answer"
    [(owner, forwarded_body, timeout, request_id)] = handed
    assert (owner, forwarded_body, request_id) == (NEW_OWNER, body, "request-1")
    assert 29 < timeout < 30  # what is left of the POST's own timeout
    assert [command.request_id for command in commands] == ["request-1"]


async def test_a_handed_over_post_whose_request_placed_the_order_is_a_201(built_app, commands):
    body, asked, order = new_order("moving-2")
    order_states.set_in(0, order.id, OrderRecord(placed_by="request-2"))

    answer = await OrdersView(built_app, built_app.web)._place(
        None, body, asked, order, 1.0, "request-2")

    assert answer.status == 201
    assert [command.request_id for command in commands] == ["request-2"]  # sent again: harmless


async def test_another_request_with_another_order_for_a_placed_id_is_a_409_naming_the_stored_one(
    built_app, commands
):
    _, _, stored = new_order("moving-3")
    order_states.set_in(0, stored.id, OrderRecord(placed_by="request-3", latest=stored))
    body, asked, order = new_order("moving-3", quantity=4)

    with pytest.raises(web.orders.HttpError) as refused:
        await OrdersView(built_app, built_app.web)._place(
            None, body, asked, order, 1.0, "another-request")

    assert refused.value.status == 409
    assert refused.value.details["stored"]["quantity"] == 1
    assert commands == []


async def test_the_same_order_again_for_a_placed_id_is_a_200_with_the_stored_order(built_app, commands):
    _, _, stored = new_order("moving-4")
    order_states.set_in(0, stored.id, OrderRecord(placed_by="request-4", latest=stored))
    body, asked, order = new_order("moving-4")  # a retry: no createdAt, so stamped anew

    answer = await OrdersView(built_app, built_app.web)._place(
        None, body, asked, order, 1.0, "a-retry")

    assert answer.status == 200
    assert json.loads(answer.body)["createdAt"] == stored.to_json()["createdAt"]
    assert answer.headers["Location"] == "/v1/orders/moving-4"
    assert commands == []
