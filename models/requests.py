"""HTTP request schemas: what the API accepts, checked before anything reaches Kafka.

Types are strict (a quantity of "3" is an error, not 3) and unknown fields are refused, so a
client learns about a typo at once. Business rules are not judged here: the validators do that.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models.records import Order, OrderState, utc_now

#: Order ids travel in URLs and Kafka keys: 1-64 letters, digits and . _ : -
OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
#: Product SKUs: 1-32 letters, digits, _ and -
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]

#: Kafka 4 refuses records stamped more than an hour ahead; refuse them here with a clear error.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class NewOrder(Order):
    """Body of `POST /v1/orders`: an Order whose state, if given, is CREATED."""

    model_config = ConfigDict(strict=True, extra="forbid")

    id: OrderId
    product: Sku
    state: Literal["CREATED"] = OrderState.CREATED.value
    price: float = Field(allow_inf_nan=False)

    @field_validator("created_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("needs a time zone (e.g. a trailing Z)")
            if value > utc_now() + MAX_CLOCK_SKEW:
                raise ValueError("is in the future")
        return value

    def to_order(self) -> Order:
        """The Order to publish, stamped with the current time if the client gave none."""
        return Order(**self.model_dump(exclude={"created_at"}), created_at=self.created_at or utc_now())


class StockLevel(BaseModel):
    """Body of `PUT /v1/inventory/{product}`: the absolute stock level."""

    model_config = ConfigDict(strict=True, extra="forbid")

    stock: int = Field(ge=0)
