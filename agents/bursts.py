"""Order bursts: a continuous query over the log, "customers with more than N orders in a
short window" (a windowed count with HAVING).

Per customer, orders are counted (number and value) in tumbling windows of BURST_WINDOW_S of
event time (`createdAt`). A window with more than BURST_MIN_ORDERS orders is a burst: its first
order over the line writes an alert to `order-bursts` at once, and later orders counted in it
write the alert again with the higher count (same key and window) at the next commit, the
latest count only: a customer in a burst costs a record per commit, not one per order. (So an
update of a window may follow the first alert of the next one.) An order whose window ended more
than BURST_GRACE_S before the customer's latest event time is late: not counted, only counted in
`/metrics`. Windows are closed on event time kept in a plain table, not by Faust's windowed
tables (which expire on wall-clock time and are not rebuilt after recovery), so a restart in the
middle of a window changes nothing. The same record holds the `orders` offsets it has counted:
a redelivered order is skipped.

Consumes: orders-by-customer (OrderEvent items; CREATED).
Produces: order-bursts (OrderBurst, by customer id).
Keeps: order_bursts (customer id -> CustomerBursts), served by `GET /v1/order-bursts`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from app import metrics, topics
from app.framework.streams import consumes, current_partition
from app.main import app, settings
from models.records import Customer, OrderBurst, OrderEvent, OrderState
from models.state import BurstWindow, CustomerBursts
from tables.bursts import order_bursts
from tables.customers import customer_records

#: Alerts kept per customer for `GET /v1/order-bursts` (the topic keeps them all).
RECENT_ALERTS = 50


def window_of(event_ms: int, window_ms: int) -> tuple[int, int]:
    """The tumbling window [start, end) of event time that holds `event_ms`."""
    start = event_ms - event_ms % window_ms
    return start, start + window_ms


def count_in_window(
    bursts: CustomerBursts, event_ms: int, cents: int, *, window_ms: int, grace_ms: int,
) -> tuple[CustomerBursts, int | None]:
    """The customer's bursts after counting an order, and the start of the window it was
    counted in; None if it came after its window closed (late: nothing counted). Closed windows
    are dropped from the record."""
    start, end = window_of(event_ms, window_ms)
    if end + grace_ms <= bursts.watermark_ms:
        return bursts, None
    window = bursts.windows.get(start, BurstWindow())
    counted = window.model_copy(update={"orders": window.orders + 1,
                                        "total_cents": window.total_cents + cents})
    watermark = max(bursts.watermark_ms, event_ms)
    windows = {
        begin: kept for begin, kept in {**bursts.windows, start: counted}.items()
        if begin + window_ms + grace_ms > watermark
    }
    return bursts.model_copy(update={"watermark_ms": watermark, "windows": windows}), start


def burst_alert(
    customer_id: int, start_ms: int, window: BurstWindow, *, window_ms: int, min_orders: int,
    customer: Customer | None,
) -> OrderBurst | None:
    """The alert for a window, if it holds more than `min_orders` orders."""
    if window.orders <= min_orders:
        return None
    return OrderBurst(
        customer_id=customer_id,
        window_start=_utc(start_ms), window_end=_utc(start_ms + window_ms),
        orders=window.orders, total=window.total_cents / 100,
        first_name=customer.first_name if customer else None,
        last_name=customer.last_name if customer else None,
    )


def with_alert(bursts: CustomerBursts, alert: OrderBurst) -> CustomerBursts:
    """The record with `alert` as its window's latest, the last RECENT_ALERTS windows kept."""
    others = [kept for kept in bursts.alerts if kept.window_start != alert.window_start]
    return bursts.model_copy(update={"alerts": [*others, alert][-RECENT_ALERTS:]})


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)


@consumes(topics.orders_by_customer, OrderEvent, batched=True)
async def watch_bursts(event: OrderEvent) -> None:
    order = event.order
    if order.state != OrderState.CREATED:
        return
    customer = str(order.customer_id)
    bursts = order_bursts.get(customer) or CustomerBursts()
    if bursts.applied(event.SOURCE, event.partition, event.offset):
        return
    window_ms = settings.burst_window_s * 1000
    bursts, start = count_in_window(bursts, order.event_time_ms, order.amount_cents,
                                    window_ms=window_ms, grace_ms=settings.burst_grace_s * 1000)
    alert = None
    if start is None:
        metrics.late_burst_orders.inc()
    else:
        alert = burst_alert(order.customer_id, start, bursts.windows[start], window_ms=window_ms,
                            min_orders=settings.burst_min_orders,
                            customer=customer_records.get(customer))
    if alert is not None:
        bursts = with_alert(bursts, alert)
    marks = bursts.marks_after(event.SOURCE, event.partition, event.offset)
    order_bursts[customer] = bursts.model_copy(update={"applied_up_to": marks})
    if alert is None:
        return
    metrics.burst_alerts.inc()
    if alert.orders == settings.burst_min_orders + 1:  # the window's first alert: at once
        await app.outputs.publish(topics.order_bursts, customer, alert.to_bytes(),
                                  partition=current_partition(), timestamp=order.timestamp)
    else:  # an update: the window's latest count goes out at the commit
        app.outputs.publish_latest(topics.order_bursts, customer, alert.to_bytes(),
                                   replaces=(customer, start), partition=current_partition(),
                                   timestamp=order.timestamp)
