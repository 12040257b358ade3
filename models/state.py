"""Records the services keep in their tables (JSON, like the records on the wire)."""

from __future__ import annotations

from models.records import (
    CheckType, Order, OrderState, PaidOrder, Payment, Record, ValidationResult,
)


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


class EmailJoin(Record):
    """The email join's entry for one order: whichever of order and payment came first waits."""

    order: Order | None = None
    #: Payments that came before their order, by arrival.
    payments: list[Payment] = []
    #: Set once the order met a payment inside the window.
    match: PaidOrder | None = None

    @property
    def latest_event_ms(self) -> int:
        """The latest event time among the entry's order and payments."""
        records = [*self.payments, *([self.order] if self.order else [])]
        records += [self.match.payment] if self.match else []
        return max(record.event_time_ms for record in records)
