"""HTTP request schemas: what the API accepts, checked before anything reaches Kafka.

Types are strict (a quantity of "3" is an error, not 3) and unknown fields are refused, so a
client learns about a typo at once. Business rules are not judged here: the validators do that.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from models.records import (
    CUSTOMER_LEVELS, Customer, Order, OrderState, Payment, TimedRecord, utc_now,
)

#: Order and payment ids travel in URLs and Kafka keys: 1-64 letters, digits and . _ : -
OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
#: Product SKUs: 1-32 letters, digits, _ and -
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
#: Customer ids in paths: positive integers.
CustomerId = Annotated[int, Field(ge=1, le=2**63 - 1)]

#: Kafka 4 refuses records stamped more than an hour ahead; refuse them here with a clear error.
MAX_CLOCK_SKEW = timedelta(minutes=5)


#: Request bodies: no type coercion, no unknown fields. Set on every class: pydantic merges the
#: configs of several bases with the last one winning, and records ignore unknown fields.
STRICT = ConfigDict(strict=True, extra="forbid")


class NewTimedRecord(TimedRecord):
    """A request body with an optional `createdAt`: zoned, and not ahead of the clock."""

    @field_validator("created_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("needs a time zone (e.g. a trailing Z)")
            if value > utc_now() + MAX_CLOCK_SKEW:
                raise ValueError("is in the future")
        return value

    def stamped(self) -> dict:
        """The fields to publish, `createdAt` set to now if the client gave none."""
        return {**self.model_dump(exclude={"created_at"}), "created_at": self.created_at or utc_now()}

    #: Fields a stored record may have changed since it was asked for (an order's state).
    CHANGES: ClassVar[frozenset[str]] = frozenset()

    def same_as(self, stored: TimedRecord) -> bool:
        """Whether this request asks for `stored` again (a retry): the same fields, and the same
        `createdAt` unless the request leaves it out (the API stamped the first one)."""
        asked = self.model_dump(exclude={"created_at", *self.CHANGES})
        if asked != stored.model_dump(include=set(asked)):
            return False
        return self.created_at is None or self.created_at == stored.created_at


class NewOrder(NewTimedRecord, Order):
    """Body of `POST /v1/orders`: an Order whose state, if given, is CREATED."""

    model_config = STRICT

    id: OrderId
    product: Sku
    state: Literal["CREATED"] = OrderState.CREATED.value
    price: float = Field(allow_inf_nan=False)

    CHANGES: ClassVar[frozenset[str]] = frozenset({"state", "failed_checks", "reason"})

    def to_order(self) -> Order:
        return Order(**self.stamped())


class NewPayment(NewTimedRecord, Payment):
    """Body of `POST /v1/payments`."""

    model_config = STRICT

    id: OrderId
    order_id: OrderId
    ccy: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    amount: float = Field(gt=0, allow_inf_nan=False)

    def to_payment(self) -> Payment:
        return Payment(**self.stamped())


class NewCustomer(BaseModel):
    """Body of `PUT /v1/customers/{id}`: the customer's fields (`id`, if given, as in the path)."""

    model_config = ConfigDict(**STRICT, alias_generator=to_camel, populate_by_name=True)

    id: int | None = None
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    last_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")]
    address: Annotated[str, StringConstraints(max_length=500)]
    level: Literal[CUSTOMER_LEVELS] = "bronze"

    def to_customer(self, customer_id: int) -> Customer:
        return Customer(id=customer_id, **self.model_dump(exclude={"id"}))


#: Columns of a legacy `customers` row that make a Customer (others, e.g. `updated_at`, are not
#: part of it).
CUSTOMER_COLUMNS = ("id", "first_name", "last_name", "email", "address", "level")


def customer_from_row(row: Mapping[str, Any]) -> Customer:
    """A row of a legacy `customers` table (SQL column names) as a Customer, held to the rules of
    `PUT /v1/customers/{id}` (a NULL level is bronze); pydantic's ValidationError (a ValueError)
    says what is wrong."""
    fields = {column: row.get(column) for column in CUSTOMER_COLUMNS}
    fields["level"] = fields["level"] or "bronze"
    customer = NewCustomer.model_validate(fields, strict=False)
    return customer.to_customer(customer.id)


class StockLevel(BaseModel):
    """Body of `PUT /v1/inventory/{product}`: the absolute stock level."""

    model_config = STRICT

    stock: int = Field(ge=0)
