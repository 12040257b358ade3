import json

from app.schemas import frame
from app.trace import describe, order_entries


def test_describe_tells_what_each_record_says():
    failed = {"id": "o1", "state": "FAILED", "failedChecks": ["INVENTORY_CHECK", "FRAUD_CHECK"],
              "reason": "TIMEOUT"}
    request = {"requestId": "r9", "order": {"product": "JUMPERS", "quantity": 3}}
    validation = {"orderId": "o1", "checkType": "FRAUD_CHECK", "validationResult": "FAIL"}
    assert describe("orders", json.dumps(failed).encode()) == (
        "FAILED failedChecks=INVENTORY_CHECK,FRAUD_CHECK reason=TIMEOUT"
    )
    assert describe("order-requests", json.dumps(request).encode()) == "place 3 x JUMPERS (request r9)"
    assert describe("order-validations", json.dumps(validation).encode()) == "FRAUD_CHECK FAIL"
    assert describe("order-deadlines", b"") == "deadline passed"
    assert describe("orders", b"{not json") == "undecodable (9 bytes)"
    payment = {"id": "p1", "orderId": "o1", "ccy": "EUR", "amount": 25.0}
    assert describe("payments-by-order", json.dumps(payment).encode()) == "payment p1: 25.0 EUR"
    email = {"orderId": "o1", "to": "a@b.org", "deliveredBy": "smtp"}
    assert describe("emails", json.dumps(email).encode()) == "email to a@b.org (delivered by smtp)"


def test_an_order_trace_shows_its_own_items_of_a_batch_and_its_own_keyed_records():
    batch = json.dumps([
        {"orderId": "o1", "checkType": "FRAUD_CHECK", "validationResult": "PASS"},
        {"orderId": "o2", "checkType": "FRAUD_CHECK", "validationResult": "FAIL"},
        {"orderId": "o1", "checkType": "INVENTORY_CHECK", "validationResult": "PASS"},
    ]).encode()
    assert order_entries("order-validations", None, frame(3, batch), "o1") == [
        "FRAUD_CHECK PASS  [schema 3]", "INVENTORY_CHECK PASS  [schema 3]"]
    created = frame(2, json.dumps({"id": "o1", "state": "CREATED"}).encode())
    assert order_entries("orders", b"o1", created, "o1") == ["CREATED  [schema 2]"]
    assert order_entries("orders", b"o2", created, "o1") == []
    assert order_entries("orders", b"o1", b'{"id": "o1"}', "o1") == [
        "unreadable: not in the Confluent wire format (magic byte 0 and a 4-byte schema id)"]
    assert order_entries("order-deadlines", b"o1", b"", "o1") == ["deadline passed"]
