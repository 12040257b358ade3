"""Tables of the email service.

The join's tables are keyed by order id (co-partitioned with `orders` and `payments-by-order`).
`emails_sent` is keyed by order id too, but written from the customer-keyed stream of matches,
so an order's entry sits with its customer.
"""

from __future__ import annotations

from tables.store import table

#: The EmailJoin (JSON) of each order: its VALIDATED event, payments waiting for it, the match.
email_joins = table("email_joins", value_type=bytes)
#: Join entries still open -> when they expire, in event time (epoch ms).
open_joins = table("open_joins", value_type=int)
#: Orders whose email went out (or was recorded): the Email (JSON), so none goes out twice.
emails_sent = table("emails_sent", value_type=bytes)
