import pytest
from pydantic import ValidationError

from models.records import Customer
from models.requests import NewCustomer, NewPayment, customer_from_row

PAYMENT = {"id": "pay-1", "orderId": "order-1", "ccy": "EUR", "amount": 25.0}
CUSTOMER = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "address": "1 Demo Street"}


def test_a_payment_is_stamped_with_its_event_time():
    payment = NewPayment.model_validate(PAYMENT).to_payment()
    assert payment.created_at is not None and payment.order_id == "order-1"


@pytest.mark.parametrize("changes, field", [
    ({"amount": 0.0}, "amount"), ({"amount": "25"}, "amount"), ({"ccy": "eur"}, "ccy"),
    ({"orderId": "has space"}, "orderId"), ({"id": ""}, "id"), ({"tip": 1.0}, "tip"),
])
def test_a_malformed_payment_is_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        NewPayment.model_validate({**PAYMENT, **changes})
    assert [error["loc"][0] for error in caught.value.errors()] == [field]


def test_a_customer_defaults_to_bronze_and_takes_the_path_id():
    customer = NewCustomer.model_validate(CUSTOMER).to_customer(7)
    assert (customer.id, customer.level) == (7, "bronze")


@pytest.mark.parametrize("changes, field", [
    ({"level": "tin"}, "level"), ({"email": "nobody"}, "email"), ({"firstName": ""}, "firstName"),
    ({"id": "7"}, "id"), ({"vip": True}, "vip"),
])
def test_a_malformed_customer_is_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        NewCustomer.model_validate({**CUSTOMER, **changes})
    assert [error["loc"][0] for error in caught.value.errors()] == [field]


def test_a_legacy_row_is_a_customer_by_the_api_rules():
    row = {"id": 3, "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com",
           "address": "3 Demo Street", "level": None, "updated_at": "2026-01-01 00:00:00"}
    assert customer_from_row(row) == Customer(
        id=3, first_name="Alan", last_name="Turing", email="alan@example.com",
        address="3 Demo Street", level="bronze")
    for wrong, field in [({"email": ""}, "email"), ({"level": "diamond"}, "level"),
                         ({"first_name": ""}, "first_name"), ({"id": "three"}, "id")]:
        with pytest.raises(ValidationError) as refused:
            customer_from_row({**row, **wrong})
        assert [error["loc"][0] for error in refused.value.errors()] == [field]


def test_a_retried_payment_is_the_same_payment_and_another_amount_is_not():
    stored = NewPayment.model_validate(PAYMENT).to_payment()
    assert NewPayment.model_validate(PAYMENT).same_as(stored)
    assert not NewPayment.model_validate({**PAYMENT, "amount": 26.0}).same_as(stored)
    assert not NewPayment.model_validate({**PAYMENT, "orderId": "order-2"}).same_as(stored)
