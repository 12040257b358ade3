"""What `POST /v1/orders` accepts: the reference client's body, strictly typed."""

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from models.records import Order, OrderState, utc_now
from models.requests import NewOrder

REFERENCE_BODY = {
    "id": "order-1", "customerId": 7, "state": "CREATED",
    "product": "JUMPERS", "quantity": 2, "price": 25.5,
}


def parse(**changes):
    body = {k: v for k, v in {**REFERENCE_BODY, **changes}.items() if v is not ...}
    return NewOrder.model_validate_json(json.dumps(body))


def test_a_reference_client_body_becomes_a_created_order_stamped_now():
    order = parse().to_order()
    assert (order.id, order.customer_id, order.state) == ("order-1", 7, OrderState.CREATED)
    assert (order.product, order.quantity, order.price) == ("JUMPERS", 2, 25.5)
    assert abs(order.created_at - utc_now()) < timedelta(seconds=5)


def test_state_may_be_omitted():
    assert parse(state=...).to_order().state == OrderState.CREATED


def test_business_rules_are_left_to_the_validators():
    order = parse(quantity=0, price=-3.0, customerId=0).to_order()
    assert (order.quantity, order.price, order.customer_id) == (0, -3.0, 0)


def test_a_client_timestamp_is_kept():
    created = (utc_now() - timedelta(hours=2)).isoformat()
    assert parse(createdAt=created).to_order().created_at.isoformat() == created


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"customerId": "7"}, "customerId"),
        ({"quantity": 1.5}, "quantity"),
        ({"price": "9.99"}, "price"),
        ({"id": "has space"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"id": ""}, "id"),
        ({"product": "JUMPERS!"}, "product"),
        ({"product": "P" * 33}, "product"),
        ({"state": "VALIDATED"}, "state"),
        ({"quantity": ...}, "quantity"),
        ({"colour": "red"}, "colour"),
        ({"createdAt": (utc_now() + timedelta(hours=2)).isoformat()}, "createdAt"),
        ({"createdAt": "2026-01-01T00:00:00"}, "createdAt"),
    ],
)
def test_a_malformed_body_is_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        parse(**changes)
    assert [error["loc"][0] for error in caught.value.errors()] == [field]


def test_records_round_trip_with_camel_case_names_and_no_metadata():
    order = parse().to_order()
    wire = json.loads(order.to_bytes())
    assert set(wire) == {"id", "customerId", "state", "product", "quantity", "price", "createdAt"}
    assert Order.from_bytes(order.to_bytes()) == order


def test_a_retry_is_the_same_order_whatever_its_state_now_and_with_or_without_its_time():
    stored = parse().to_order().model_copy(update={"state": OrderState.FAILED,
                                                   "failed_checks": ["FRAUD_CHECK"]})
    assert parse().same_as(stored)  # createdAt left out: the first request's stamp stands
    assert parse(createdAt=stored.created_at.isoformat()).same_as(stored)
    assert not parse(createdAt="2026-01-01T00:00:00Z").same_as(stored)
    assert not parse(quantity=3).same_as(stored)
    assert not parse(customerId=8).same_as(stored)
