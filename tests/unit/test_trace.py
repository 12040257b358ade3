import json

from app.trace import describe


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
