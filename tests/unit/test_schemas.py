"""The record schemas (models/schemas.py) and the wire format and id cache (app/schemas.py)."""

import copy
import json
from datetime import datetime, timezone

import jsonschema_rs
import pytest

from app import topics
from app.schemas import TopicSchema, UnknownId, Unreadable, frame, unframe
from models.records import (
    CheckType, Email, Order, OrderEvent, OrderState, OrderValidation, PlaceOrder, StockEvent,
)
from models.schemas import breaking_changes, json_schema

ORDER = json_schema(Order)


def changed(schema: dict, change) -> dict:
    copied = copy.deepcopy(schema)
    change(copied)
    return copied


def test_a_framed_value_is_magic_byte_zero_a_four_byte_id_and_the_payload():
    assert frame(258, b"{}") == b"\x00\x00\x00\x01\x02{}"
    assert unframe(frame(7, b'{"id":"o1"}')) == (7, b'{"id":"o1"}')
    for unframed in (b'{"id":"o1"}', b"\x00\x00", b"\x01\x00\x00\x00\x07{}", None):
        with pytest.raises(Unreadable):
            unframe(unframed)


def test_schemas_use_the_records_camel_case_names_and_close_every_object():
    assert set(ORDER["properties"]) == {
        "createdAt", "id", "customerId", "state", "product", "quantity", "price", "failedChecks",
        "reason"}
    assert set(ORDER["required"]) == {"id", "customerId", "state", "product", "quantity", "price"}
    batch = json_schema(list[OrderEvent | StockEvent])
    objects = [node for node in batch["definitions"].values() if "properties" in node]
    assert objects and all(node["additionalProperties"] is False for node in objects)


def test_the_records_the_app_writes_are_valid_under_their_topics_schemas():
    when = datetime(2026, 12, 1, tzinfo=timezone.utc)
    order = Order(id="o1", customer_id=1, state=OrderState.FAILED, product="JUMPERS", quantity=2,
                  price=9.5, failed_checks=[CheckType.FRAUD_CHECK], reason="x", created_at=when)
    written = {
        topics.orders: order.to_bytes(),
        topics.order_requests: PlaceOrder(request_id="r", order=order).to_bytes(),
        topics.order_validations: json.dumps([OrderValidation(
            order_id="o1", check_type=CheckType.FRAUD_CHECK, validation_result="PASS").to_json()]),
        topics.warehouse_inventory: b"12",
        topics.emails: Email(order_id="o1", customer_id=1, to="a@b.org", subject="s", body="b",
                             sent_at=when, delivered_by="none").to_bytes(),
    }
    for topic, value in written.items():
        jsonschema_rs.validator_for(json_schema(topic.value_type)).validate(json.loads(value))
    with pytest.raises(jsonschema_rs.ValidationError):  # a field the schema does not name
        jsonschema_rs.validator_for(ORDER).validate({**order.to_json(), "extra": 1})


def test_every_topic_has_a_schema_but_empty_notices_private_checkpoints_legacy_rows_and_dead_letters():
    unframed = {t.base_name for t in topics.ALL if t.value_type is None}
    assert unframed == {"order-deadlines", "customer-loader-checkpoints", "legacy-customers",
                        "orders-to-sql-dead-letters",
                        *(t.base_name for t in topics.DEAD_LETTERS.values())}


def test_an_added_optional_field_breaks_nothing():
    with_note = changed(ORDER, lambda s: s["properties"].update(note={"type": "string"}))
    assert breaking_changes(ORDER, with_note) == []
    assert breaking_changes(ORDER, ORDER) == []


def test_removed_retyped_and_newly_required_fields_are_named():
    def remove(schema):
        del schema["properties"]["customerId"]
        schema["required"].remove("customerId")

    def require_new(schema):
        schema["properties"]["note"] = {"type": "string"}
        schema["required"].append("note")

    assert breaking_changes(ORDER, changed(ORDER, remove)) == ["record.customerId: removed"]
    retyped = changed(ORDER, lambda s: s["properties"].update(quantity={"type": "string"}))
    assert breaking_changes(ORDER, retyped) == ["record.quantity: type integer is now string"]
    assert breaking_changes(ORDER, changed(ORDER, require_new)) == ["record.note: added as required"]
    made_required = changed(ORDER, lambda s: s["required"].append("reason"))
    assert breaking_changes(ORDER, made_required) == ["record.reason: now required"]


def test_widening_is_compatible_and_narrowing_an_enum_is_not():
    widened = changed(ORDER, lambda s: s["properties"].update(quantity={"type": "number"}))
    assert breaking_changes(ORDER, widened) == []
    narrowed = changed(ORDER, lambda s: s["definitions"]["OrderState"]["enum"].remove("SHIPPED"))
    assert breaking_changes(ORDER, narrowed) == ["record.state: values ['SHIPPED'] are no longer allowed"]


def test_changes_inside_nested_records_and_batches_are_named_with_their_path():
    command = json_schema(PlaceOrder)
    retyped = changed(command, lambda s: s["definitions"]["Order"]["properties"].update(
        price={"type": "string"}))
    assert breaking_changes(command, retyped) == ["record.order.price: type number is now string"]
    batch = json_schema(list[OrderValidation])
    without_result = changed(batch, lambda s: s["definitions"]["OrderValidation"]["properties"].pop(
        "validationResult"))
    assert "record[].validationResult: removed" in breaking_changes(batch, without_result)


def test_a_topic_accepts_the_ids_it_knows_and_asks_once_about_the_others():
    known = TopicSchema("orders", ORDER)
    known.use(5)
    assert known.payload(frame(5, b"{}")) == b"{}"
    assert known.frame(b"{}") == frame(5, b"{}")
    with pytest.raises(UnknownId) as unknown:
        known.payload(frame(6, b"{}"))
    assert unknown.value.schema_id == 6
    known.refused[6] = "schema id 6 is not a version of orders-value"
    with pytest.raises(Unreadable, match="not a version of orders-value"):
        known.payload(frame(6, b"{}"))


def test_a_topic_without_a_registered_id_refuses_to_frame():
    with pytest.raises(RuntimeError, match="orders-value is not registered"):
        TopicSchema("orders", ORDER).frame(b"{}")
