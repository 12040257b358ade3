"""`POST /v1/payments`: a payment for an order, to be joined with it by the email service."""

from __future__ import annotations

from faust import web

from app import topics
from app.main import app
from models.requests import NewPayment
from web.http import HttpError, parse_body, publish, read_body, timeout_seconds


@app.page("/v1/payments")
class PaymentsView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """201 with the payment (stamped with `createdAt`) once the broker has it."""
        try:
            payment = parse_body(NewPayment, await read_body(request)).to_payment()
            await publish(
                topics.payments, payment.id, payment.to_bytes(), timeout_seconds(request),
                payment.timestamp,
            )
        except HttpError as error:
            return error.response(self)
        return self.json(payment.to_json(), status=201)
