"""View repairs: a rebuilt value written into the live table, unless the key changed meanwhile.

`faust -A app rebuild VIEW --apply` (app/rebuild.py) sends each key whose live value differs from
the one rebuilt from the log, with the live value it read. The worker that owns the key writes
the rebuilt value only if the view's part of its table is still that value: an order that
changed the key after the rebuild read it is newer than the rebuild, and wins (the command then
reports the key as not repaired). The check and the write are one step of the event loop, so no
agent's write slips between them.

Consumes: view-repairs (ViewRepair, keyed by the table key).
Changes: the table of the repair's view (order_states, customer_records, stock_reservations,
         fraud_sessions).
"""

from __future__ import annotations

import logging
from typing import Any

from app import metrics, topics
from app.framework.streams import Rejected, consumes, current_partition
from app.framework.table import DELETED
from app.rebuild import VIEWS, View, canonical
from models.records import ViewRepair

log = logging.getLogger(__name__)

#: `repaired()`'s answer when the key changed since the rebuild read it.
CHANGED = object()


def repaired(view: View, live: Any, repair: ViewRepair) -> Any:
    """The table's new value for the key (None: delete it), or CHANGED if its part is no longer
    what the rebuild read as live."""
    expected = None if repair.expected is None else view.part_type.model_validate(repair.expected)
    current = None if live is None else view.part(live)
    if canonical(current) != canonical(expected):
        return CHANGED
    value = None if repair.value is None else view.part_type.model_validate(repair.value)
    return view.put_back(live, value)


@consumes(topics.view_repairs, ViewRepair.from_bytes, keyed=True)
async def repair_views(key: str, repair: ViewRepair) -> None:
    view = VIEWS.get(repair.view)
    if view is None:
        raise Rejected(f"no view {repair.view!r}; the views are {', '.join(VIEWS)}")
    table = view.table
    value = repaired(view, table.get(key), repair)
    if value is CHANGED:
        metrics.view_repairs.labels(view.name, "changed").inc()
        log.info("repair of %s key %r not applied: the key changed since the rebuild", view.name, key)
        return
    table.set_in(current_partition(), key, DELETED if value is None else value)
    metrics.view_repairs.labels(view.name, "applied").inc()
    log.info("repaired %s key %r", view.name, key)
