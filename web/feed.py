"""What the dashboard shows, kept from the records the live feed reads (web/events.py), and the
messages it sends: a snapshot when a client connects, then one update a second.

Everything here is bounded whatever the load: the last RECENT_ORDERS orders (each at its latest
state), the last RECENT_ALERTS bursts and emails, RATE_SECONDS seconds of event counts, at most
MAX_PRODUCTS products. An update carries what changed in its second, so a client's traffic is
one message a second however many orders pass.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque

from models.records import STATE_RANK, OrderState

#: Orders the dashboard lists, newest last.
RECENT_ORDERS = 50
#: Burst alerts and emails it lists.
RECENT_ALERTS = 20
#: Seconds of orders-per-second it keeps (the chart's width).
RATE_SECONDS = 60
#: Products in the stock table (the first by name).
MAX_PRODUCTS = 200


class Feed:
    def __init__(self) -> None:
        #: Order id -> the order at its latest state, oldest first.
        self.orders: OrderedDict[str, dict] = OrderedDict()
        #: (customer, window start) -> the latest alert of that window, oldest first.
        self.bursts: OrderedDict[tuple, dict] = OrderedDict()
        #: Order id -> its email (without the body), oldest first.
        self.emails: OrderedDict[str, dict] = OrderedDict()
        #: {"t": epoch second, "counts": {state: events}} per second, oldest first.
        self.rates: deque[dict] = deque(maxlen=RATE_SECONDS)
        self.stock: list[dict] = []
        self._counts: Counter[str] = Counter()
        self._changed: dict[str, set] = {"orders": set(), "bursts": set(), "emails": set()}
        self._stock_changed = False

    def add_order(self, order: dict, *, live: bool = True) -> None:
        """An event read from `orders`; `live` ones (not read back at start) count in the rates."""
        state = order.get("state")
        if live:
            self._counts[state] += 1
        current = self.orders.get(order["id"])
        if current is not None and _rank(state) <= _rank(current.get("state")):
            return  # a redelivery or an event behind the one shown
        _keep(self.orders, order["id"], order, RECENT_ORDERS)
        self._changed["orders"].add(order["id"])

    def add_burst(self, burst: dict) -> None:
        key = (burst.get("customerId"), burst.get("windowStart"))
        current = self.bursts.get(key)
        if current is not None and current.get("orders", 0) >= burst.get("orders", 0):
            return
        _keep(self.bursts, key, burst, RECENT_ALERTS)
        self._changed["bursts"].add(key)

    def add_email(self, email: dict) -> None:
        order_id = email.get("orderId")
        if order_id in self.emails:
            return
        shown = {field: email.get(field) for field in ("orderId", "customerId", "to", "subject",
                                                        "sentAt", "deliveredBy")}
        _keep(self.emails, order_id, shown, RECENT_ALERTS)
        self._changed["emails"].add(order_id)

    def set_stock(self, levels: list[dict]) -> None:
        levels = levels[:MAX_PRODUCTS]
        if levels != self.stock:
            self.stock, self._stock_changed = levels, True

    def snapshot(self) -> dict:
        return {
            "orders": list(self.orders.values()), "bursts": list(self.bursts.values()),
            "emails": list(self.emails.values()), "rates": list(self.rates), "stock": self.stock,
        }

    def tick(self, second: int) -> dict:
        """The update for the second that ends now: its counts, and what changed in it."""
        rate = {"t": second, "counts": dict(self._counts)}
        self.rates.append(rate)
        self._counts.clear()
        update: dict = {"rate": rate}
        kept_by_name = {"orders": self.orders, "bursts": self.bursts, "emails": self.emails}
        for name, kept in kept_by_name.items():
            changed = self._changed[name]
            if changed:
                update[name] = [value for key, value in kept.items() if key in changed]
                changed.clear()
        if self._stock_changed:
            update["stock"], self._stock_changed = self.stock, False
        return update


def _rank(state: str | None) -> int:
    try:
        return STATE_RANK[OrderState(state)]
    except ValueError:
        return -1


def _keep(kept: OrderedDict, key, value: dict, limit: int) -> None:
    """Put `value` under `key`: in its place if kept, else last, dropping the oldest past
    `limit`."""
    kept[key] = value
    while len(kept) > limit:
        kept.popitem(last=False)
