"""`PUT /v1/customers/{id}` upserts a customer; `GET` reads it from the owner of the id."""

from __future__ import annotations

from faust import web

from app import topics
from app.main import app
from models.requests import CustomerId, NewCustomer
from tables.customers import customer_records
from web.http import HttpError, PathParameter, parse_body, publish, read_body, timeout_seconds
from web.routing import serve_by_owner

CUSTOMER_ID = PathParameter("customer id", CustomerId)


@app.page("/v1/customers/{customer_id}")
class CustomerView(web.View):
    async def put(self, request: web.Request, customer_id: str) -> web.Response:
        """Publish the customer to `customers`; 200 once the broker has it."""
        try:
            number = CUSTOMER_ID.check(customer_id)
            body = parse_body(NewCustomer, await read_body(request))
            if body.id is not None and body.id != number:
                raise HttpError(400, "the body's id is not the path's", {"id": body.id})
            customer = body.to_customer(number)
            await publish(
                topics.customers, str(number), customer.to_bytes(), timeout_seconds(request)
            )
        except HttpError as error:
            return error.response(self)
        return self.json(customer.to_json())

    async def get(self, request: web.Request, customer_id: str) -> web.Response:
        try:
            key = str(CUSTOMER_ID.check(customer_id))  # "007" is customer 7
            return await serve_by_owner(
                self, request, customer_records, key, lambda: self._customer(key),
                timeout=timeout_seconds(request),
            )
        except HttpError as error:
            return error.response(self)

    async def _customer(self, customer_id: str) -> web.Response:
        customer = customer_records.get(customer_id)
        if customer is None:
            raise HttpError(404, f"customer {customer_id} not found")
        return self.bytes(customer.to_bytes(), content_type="application/json")
