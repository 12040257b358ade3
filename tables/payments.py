"""The table of payments by payment id (co-partitioned with `payments`)."""

from __future__ import annotations

from app.framework.store import table
from models.records import Payment

#: The first payment of each payment id: `POST /v1/payments` answers a retry from it, and the
#: email service forwards no other payment under that id.
payments_by_id = table("payments_by_id", model=Payment)
