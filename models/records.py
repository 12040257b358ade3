"""Records as they travel on Kafka: JSON objects with the reference's camelCase field names.

Records carry no Faust metadata blob: on Kafka each is this JSON framed with the id of its schema
in the schema registry (app/schemas.py; the schemas come from these models, models/schemas.py), so
any Confluent-compatible client reads and writes them. Decoding is lenient about business rules (a quantity of 0 is a valid record that the
order-details check fails) but strict about types: a record that does not decode is a dead letter.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        return cls.model_validate_json(raw)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OrderState(str, Enum):
    CREATED = "CREATED"
    VALIDATED = "VALIDATED"
    FAILED = "FAILED"
    SHIPPED = "SHIPPED"


#: How far each state is along an order's life; an event never moves an order backwards (the
#: query side, agents/orders.py, and the SQL view of orders, app/postgres.py).
STATE_RANK = {
    OrderState.CREATED: 0,
    OrderState.VALIDATED: 1,
    OrderState.FAILED: 1,
    OrderState.SHIPPED: 2,
}


class CheckType(str, Enum):
    INVENTORY_CHECK = "INVENTORY_CHECK"
    FRAUD_CHECK = "FRAUD_CHECK"
    ORDER_DETAILS_CHECK = "ORDER_DETAILS_CHECK"


class ValidationResult(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


#: Why an order FAILED without a failing check: it was not complete by its deadline.
TIMEOUT = "TIMEOUT"


class TimedRecord(Record):
    """A record with an event time: the API stamps `createdAt` when the client does not."""

    created_at: datetime | None = None

    @property
    def timestamp(self) -> float | None:
        """Event time in epoch seconds, as Kafka record timestamps want it."""
        return self.created_at.timestamp() if self.created_at else None

    @property
    def event_time_ms(self) -> int:
        """Event time in epoch milliseconds (now, for a record that carries none)."""
        return int((self.created_at or utc_now()).timestamp() * 1000)


class Order(TimedRecord):
    id: str
    customer_id: int
    state: OrderState
    product: str
    quantity: int
    price: float
    #: On FAILED: the checks that failed (or, on a timeout, did not pass in time).
    failed_checks: list[CheckType] | None = None
    #: On FAILED without a failing check: TIMEOUT.
    reason: str | None = None

    @property
    def amount_cents(self) -> int:
        """quantity x price in whole cents, so limits are exact at their boundary."""
        return round(self.quantity * self.price * 100)


class OrderValidation(Record):
    order_id: str
    check_type: CheckType
    validation_result: ValidationResult
    reason: str | None = None


class PlaceOrder(Record):
    """A command on `order-requests`: place `order` unless its id is taken.

    `request_id` tells the HTTP request that sent the command whether it won the id.
    """

    request_id: str
    order: Order


class Payment(TimedRecord):
    id: str
    order_id: str
    ccy: str
    amount: float


#: The levels the email service routes to, each a topic of its own.
CUSTOMER_LEVELS = ("platinum", "gold", "silver", "bronze")


class Customer(Record):
    id: int
    first_name: str
    last_name: str
    email: str
    address: str
    level: str = "bronze"


class OrderBurst(Record):
    """More than BURST_MIN_ORDERS orders of one customer in one tumbling window of event time,
    on `order-bursts`; a later record for the same customer and window has a higher count."""

    customer_id: int
    window_start: datetime
    window_end: datetime
    orders: int
    total: float
    first_name: str | None = None
    last_name: str | None = None


class OrderEnriched(Record):
    """An order event with its customer's level, on the topic named after that level."""

    id: str
    customer_id: int
    customer_level: str


class PaidOrder(Record):
    """The email join's match: a VALIDATED order and its payment, at most a window apart."""

    order: Order
    payment: Payment


class OrderEvent(Record):
    """An `orders` event forwarded to the customer- and product-keyed services, with where it
    was read (`orders` partition and offset): their records skip what they applied already."""

    #: The topic `partition` and `offset` are of (a record's marks are kept per source).
    SOURCE: ClassVar[str] = "orders"

    partition: int
    offset: int
    order: Order


#: A `warehouse-inventory` value: a product's absolute stock level, a bare JSON integer.
WarehouseStock = Annotated[int, Field(ge=0)]


class StockEvent(Record):
    """A product's new absolute stock level, read from `warehouse-inventory` (partition, offset)
    and forwarded to `orders-by-product`, so the inventory check applies it in order with the
    product's orders, the same order when a crash makes it apply them again."""

    SOURCE: ClassVar[str] = "warehouse-inventory"

    partition: int
    offset: int
    product: str
    stock: int


class Email(Record):
    """What the email service sent for an order, when, and to whom."""

    order_id: str
    customer_id: int
    to: str
    subject: str
    body: str
    sent_at: datetime
    #: "smtp": an SMTP server took it; "refused": the server refused it for good (a bad address);
    #: "none": no SMTP_HOST is set, so it is only recorded.
    delivered_by: str


def encode_batch(items: list[bytes]) -> bytes:
    """Many items (JSON records) as one record of an internal topic: a JSON array."""
    return b"[" + b",".join(items) + b"]"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ViewRepair(Record):
    """A key's rebuilt value for a view (`view-repairs`, keyed by the table key), sent by
    `faust -A app rebuild VIEW --apply` (app/rebuild.py). The key's owner writes `value` only if
    the view's part of its table still is `expected` (None: the key absent or deleted)."""

    view: str
    expected: dict | None = None
    value: dict | None = None
