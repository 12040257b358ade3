"""Records the services keep in their tables (JSON, like the records on the wire)."""

from __future__ import annotations

from models.records import CheckType, Order, OrderState, Record, ValidationResult


class FraudSession(Record):
    """One customer's current session: orders no more than the gap apart in event time."""

    total_cents: int = 0
    last_event_ms: int = 0


class InventoryCheck(Record):
    """The inventory check's answer for one order, and what it holds in reserve."""

    product: str
    result: ValidationResult
    reserved: int = 0
    #: The order FAILED: its reservation (if any) went back to the stock.
    released: bool = False


class ValidationProgress(Record):
    """What the aggregator knows of one order."""

    order: Order | None = None
    #: The first result of each check; later ones (duplicates) change nothing.
    results: dict[CheckType, ValidationResult] = {}
    #: The terminal event, once decided; it is published until seen back on `orders`.
    outcome: Order | None = None
    confirmed: bool = False

    @property
    def decided(self) -> OrderState | None:
        return self.outcome.state if self.outcome else None
