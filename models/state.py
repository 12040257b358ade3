"""Records the services keep in their tables (JSON, like the records on the wire).

Each decision is one write of one record: an order's record holds everything the order-keyed
services know of it, a customer's fraud session what it counted, a product's reservations what
they hold. A redelivered input finds its effect in the same record it would change.
"""

from __future__ import annotations

from models.records import (
    CheckType, Order, OrderBurst, OrderState, PaidOrder, Payment, Record, ValidationResult,
)


class TimelineEntry(Record):
    """One event about an order: where it sits on Kafka and what it says."""

    topic: str
    partition: int
    #: None only for an email whose record was not found near the time it was sent.
    offset: int | None
    #: The record's timestamp, epoch milliseconds.
    timestamp: int
    summary: str


class OrderTimeline(Record):
    """Every event about one order, in the order its worker read them (agents/timeline.py)."""

    entries: list[TimelineEntry] = []
    #: Events past the cap (TIMELINE_MAX_ENTRIES), counted and not kept.
    dropped: int = 0


class EmailJoin(Record):
    """The email join of one order: whichever of order and payment came first waits."""

    order: Order | None = None
    #: Payments that came before their order, by arrival.
    payments: list[Payment] = []
    #: Set once the order met a payment inside the window.
    match: PaidOrder | None = None


class OrderRecord(Record):
    """Everything the order-keyed services know of one order id (table `order_states`)."""

    #: The request that placed the order (the first PlaceOrder for the id wins it).
    placed_by: str | None = None
    #: The order as created: what the validations judge.
    order: Order | None = None
    #: The latest event of the order on `orders`: what `GET /v1/orders/{id}` answers.
    latest: Order | None = None
    #: The first result of each check; later ones (duplicates) change nothing.
    results: dict[CheckType, ValidationResult] = {}
    #: The terminal event, once decided; it is published until seen back on `orders`.
    outcome: Order | None = None
    #: The outcome was read back from `orders` (or another terminal event was there first).
    confirmed: bool = False
    #: The email service's join of the VALIDATED order with its payment.
    join: EmailJoin | None = None
    #: Every event about the order, for `GET /v1/orders/{id}/timeline`.
    timeline: OrderTimeline | None = None

    @property
    def decided(self) -> OrderState | None:
        return self.outcome.state if self.outcome else None


class Watermarks(Record):
    """The highest offset, per source topic and partition (`orders/2`), whose event a record has
    applied.

    Events of one source partition reach a customer's or product's record in offset order (one
    handler forwards them, in order, to one partition). So an event at or below its mark was
    applied already: a redelivery, after a crash of the forwarding worker or of this one,
    skipped without a trace in the state.
    """

    applied_up_to: dict[str, int] = {}

    def applied(self, source: str, partition: int, offset: int) -> bool:
        return offset <= self.applied_up_to.get(f"{source}/{partition}", -1)

    def marks_after(self, source: str, partition: int, offset: int) -> dict[str, int]:
        return {**self.applied_up_to, f"{source}/{partition}": offset}


class FraudSession(Watermarks):
    """One customer's current session: orders no more than the gap apart in event time."""

    total_cents: int = 0
    last_event_ms: int = 0


class BurstWindow(Record):
    """What one tumbling window of a customer's orders has counted."""

    orders: int = 0
    total_cents: int = 0


class CustomerBursts(Watermarks):
    """One customer's order bursts (table `order_bursts`): the open windows, by start in epoch
    ms, and the latest alert of each recent window."""

    #: The latest event time of the customer's orders: a window whose end plus the grace is at
    #: or before it is closed (on event time, so a restart changes nothing).
    watermark_ms: int = 0
    windows: dict[int, BurstWindow] = {}
    #: The latest alert of each of the last windows that had one, oldest first.
    alerts: list[OrderBurst] = []


class StockReservations(Watermarks):
    """One product's stock level and what it holds for orders (table `stock_reservations`)."""

    #: The absolute stock level, from `warehouse-inventory` (the latest applied wins).
    stock: int = 0
    #: Units held for orders that passed the inventory check and did not fail.
    reserved: int = 0
    #: Orders that passed and are not decided yet -> units: released if the order FAILS, kept
    #: (and forgotten here) once it is VALIDATED.
    held: dict[str, int] = {}

