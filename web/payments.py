"""`POST /v1/payments`: a payment for an order, to be joined with it by the email service.

Served by the worker that owns the payment id. The first payment of an id wins it
(`payments_by_id`, kept by the email service as it reads `payments`): the same payment again (same
fields, `createdAt` left out or equal) gets 200 with the stored payment, a different one 409 with
the stored payment in `details`, and neither is written again. Concurrent POSTs of one id on
this worker take turns, so one of them writes it.
"""

from __future__ import annotations

import asyncio

from faust import web

from app import topics
from app.main import app
from models.records import Payment
from models.requests import NewPayment
from tables.payments import payments_by_id
from web.http import (
    HttpError, KeyLocks, outcome_unknown, parse_body, publish, read_body, timeout_seconds,
)
from web.routing import serve_by_owner

#: One POST at a time per payment id on this worker.
in_turn = KeyLocks()


@app.page("/v1/payments")
class PaymentsView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """201 with the payment (stamped with `createdAt`) once the email service has it."""
        try:
            body = await read_body(request)
            asked = parse_body(NewPayment, body)
            timeout = timeout_seconds(request)
            return await serve_by_owner(
                self, request, payments_by_id, asked.id, lambda: self._pay(asked, timeout),
                body=body, timeout=timeout)
        except HttpError as error:
            return outcome_unknown(error).response(self)

    async def _pay(self, asked: NewPayment, timeout: float) -> web.Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with in_turn.hold(asked.id):
            stored = payments_by_id.get(asked.id)
            if stored is not None:
                return self._paid_before(asked, stored)
            payment = asked.to_payment()
            await publish(
                topics.payments, payment.id, payment.to_bytes(), timeout, payment.timestamp)
            try:
                stored = await payments_by_id.wait_for(
                    payment.id, lambda stored: stored is not None, max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise HttpError(504, f"payment {payment.id} was written but not read back within "
                                f"{timeout * 1000:.0f} ms") from None
        if stored != payment:  # another payment under this id came first (a rebalance)
            return self._paid_before(asked, stored)
        return self.json(payment.to_json(), status=201)

    def _paid_before(self, asked: NewPayment, stored: Payment) -> web.Response:
        if not asked.same_as(stored):
            raise HttpError(409, f"payment {asked.id} already exists, with other fields",
                            {"stored": stored.to_json()})
        return self.json(stored.to_json(), status=200)
