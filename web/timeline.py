"""`GET /v1/orders/{id}/timeline`: every event about an order, in the order its worker read them,
each with its topic, partition, offset, timestamp and one line about it (agents/timeline.py).
`GET /v1/customers/{id}/emails/{orderId}`: the email sent for an order, with its record on
`emails`.

The owner of the order answers the timeline from the order's record (`order_states`). The
order's email sits with its customer: once the order met its payment (the email join), the
timeline asks the customer's owner for the email, which finds its record on `emails` by the time
it was sent: that topic is the email table's changelog, stamped as it is written, so the read is
bounded by the broker's time index (app/trace.find_record). A worker that does not answer makes
it a 503, never a timeline without its email.
"""

from __future__ import annotations

from datetime import timedelta

from aiokafka import TopicPartition
from faust import web

from app import topics
from app.main import app, settings
from app.framework.streams import partition_for
from app.trace import find_record, summary
from models.records import Email
from models.requests import CustomerId, OrderId
from models.state import TimelineEntry
from tables.customers import customer_records
from tables.emails import emails_sent
from tables.orders import order_states
from web.http import HttpError, PathParameter, timeout_seconds
from web.routing import OwnerUnavailable, ask, other_owner, owner_of, serve_by_owner

ORDER_ID = PathParameter("order id", OrderId)
CUSTOMER_ID = PathParameter("customer id", CustomerId)
#: How long after an email's `sentAt` its record may reach `emails` (the write goes out right
#: after the send; this covers a broker that was briefly away).
EMAIL_RECORD_WITHIN = timedelta(seconds=60)


@app.page("/v1/orders/{order_id}/timeline")
class TimelineView(web.View):
    async def get(self, request: web.Request, order_id: str) -> web.Response:
        try:
            ORDER_ID.check(order_id)
            timeout = timeout_seconds(request)
            return await serve_by_owner(
                self, request, order_states, order_id,
                lambda: self._timeline(order_id, timeout), timeout=timeout)
        except HttpError as error:
            return error.response(self)

    async def _timeline(self, order_id: str, timeout: float) -> web.Response:
        record = order_states.get(order_id)
        timeline = None if record is None else record.timeline
        if timeline is None:
            raise HttpError(404, f"no event of order {order_id} has been read")
        events = [entry.to_json() for entry in timeline.entries]
        if record.join is not None and record.join.match is not None:
            email = await _ask_for_email(record.join.match.order.customer_id, order_id, timeout)
            if email is not None:
                events.append(email)
        return self.json({"orderId": order_id, "events": events, "dropped": timeline.dropped})


async def _ask_for_email(customer_id: int, order_id: str, timeout: float) -> dict | None:
    """The email's timeline entry from the customer's owner; None if no email went out (yet)."""
    key = str(customer_id)
    if owner_of(customer_records, key) is None:
        raise OwnerUnavailable("no worker owns the order's customer yet (the group is rebalancing)")
    owner = other_owner(customer_records, key)
    if owner is None:
        return await email_entry(customer_id, order_id)
    status, answer = await ask(owner, f"/v1/customers/{key}/emails/{order_id}", {}, timeout)
    if status == 404:
        return None
    if status != 200:
        raise OwnerUnavailable(f"the owner of customer {key} answered {status}", answer)
    return answer


async def email_entry(customer_id: int, order_id: str) -> dict | None:
    """The timeline entry of the email of `order_id` to `customer_id` (on this worker, the
    customer's owner); None if none went out."""
    email: Email | None = emails_sent.get(order_id)
    if email is None or email.customer_id != customer_id:
        return None
    partition = partition_for(str(customer_id))
    sent_ms = int(email.sent_at.timestamp() * 1000)
    found = await find_record(
        settings, TopicPartition(topics.emails.get_topic_name(), partition),
        order_id.encode(), sent_ms - 1000,
        sent_ms + int(EMAIL_RECORD_WITHIN.total_seconds() * 1000))
    return TimelineEntry(
        topic=topics.emails.base_name, partition=partition,
        offset=None if found is None else found.offset,
        timestamp=sent_ms if found is None else found.timestamp,
        summary=summary(topics.emails.base_name, email.to_json()),
    ).model_dump(mode="json", by_alias=True)  # with `offset: null` when not found


@app.page("/v1/customers/{customer_id}/emails/{order_id}")
class CustomerEmailView(web.View):
    async def get(self, request: web.Request, customer_id: str, order_id: str) -> web.Response:
        try:
            number = CUSTOMER_ID.check(customer_id)
            ORDER_ID.check(order_id)
            return await serve_by_owner(
                self, request, customer_records, str(number),
                lambda: self._email(number, order_id), timeout=timeout_seconds(request))
        except HttpError as error:
            return error.response(self)

    async def _email(self, customer_id: int, order_id: str) -> web.Response:
        entry = await email_entry(customer_id, order_id)
        if entry is None:
            raise HttpError(404, f"no email to customer {customer_id} for order {order_id}")
        return self.json(entry)
