"""`GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document.

Request bodies are described by the same pydantic schemas the views validate with, so the
document cannot drift from what the API accepts.
"""

from __future__ import annotations

from functools import cache

from faust import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.main import app, settings
from models.records import Customer, Order, OrderBurst, Payment
from models.requests import NewCustomer, NewOrder, NewPayment, StockLevel
from models.state import TimelineEntry


class StockSet(BaseModel):
    product: str
    stock: int


class InventoryLevels(BaseModel):
    product: str
    stock: int
    reserved: int
    available: int


class Inventory(BaseModel):
    inventory: list[InventoryLevels]


class OrderBursts(BaseModel):
    bursts: list[OrderBurst]


class Timeline(BaseModel):
    orderId: str
    events: list[TimelineEntry]
    dropped: int


class Error(BaseModel):
    error: str
    details: object = None


REQUESTS = (NewOrder, NewPayment, NewCustomer, StockLevel)
RESPONSES = (
    Order, Payment, Customer, StockSet, InventoryLevels, Inventory, OrderBursts, Timeline,
    TimelineEntry, Error,
)


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _answer(description: str, model: type[BaseModel] = Error) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _path_parameter(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _field_schema(model: type[BaseModel], field: str) -> dict:
    return model.model_json_schema(by_alias=True)["properties"][field]


def _timeout() -> dict:
    return {
        "name": "timeout", "in": "query", "required": False,
        "description": f"How long to wait, in milliseconds (default {settings.http_default_timeout_ms}).",
        "schema": {"type": "integer", "minimum": 0, "maximum": settings.http_max_timeout_ms},
    }


MALFORMED = _answer("A malformed body, path or query parameter: `details` says what is wrong.")
TOO_LARGE = _answer("The body is larger than MAX_BODY_BYTES.")
NO_OWNER = _answer("No worker owns the key, or its owner did not answer in time.")
TIMED_OUT = _answer("Not answered within `timeout`.")


def _put_and_get(
    parameter: dict, body: type[BaseModel], stored: type[BaseModel], found: type[BaseModel], *,
    put: str, get: str, missing: dict | None = None,
) -> dict:
    """A resource written with PUT (through a topic) and read with GET (from its owner)."""
    return {
        "put": {
            "summary": put, "parameters": [parameter, _timeout()], "requestBody": _body(body),
            "responses": {"200": _answer("Stored.", stored),
                          "400": MALFORMED, "413": TOO_LARGE, "504": TIMED_OUT},
        },
        "get": {
            "summary": get, "parameters": [parameter, _timeout()],
            "responses": {"200": _answer("Found.", found), "400": MALFORMED, "503": NO_OWNER,
                          **({"404": missing} if missing else {})},
        },
    }


@cache
def openapi_document() -> dict:
    _, schemas = models_json_schema(
        [(model, "validation") for model in REQUESTS]
        + [(model, "serialization") for model in RESPONSES],
        by_alias=True, ref_template="#/components/schemas/{model}",
    )
    order_id = _path_parameter("order_id", _field_schema(NewOrder, "id"))
    product = _path_parameter("product", _field_schema(NewOrder, "product"))
    customer_id = _path_parameter(
        "customer_id", {"type": "string", "pattern": r"^0*[1-9][0-9]{0,17}$"}
    )
    order_query = {
        "parameters": [order_id, _timeout()],
        "responses": {"200": _answer("The order.", Order), "400": MALFORMED,
                      "503": NO_OWNER, "504": TIMED_OUT},
    }
    paths = {
        "/v1/orders": {"post": {
            "summary": "Place an order (once per id).",
            "parameters": [_timeout()], "requestBody": _body(NewOrder),
            "responses": {"201": _answer("Placed.", Order),
                          "200": _answer("Placed before, with this same order.", Order),
                          "400": MALFORMED,
                          "409": _answer("The id holds another order (`details.stored`)."),
                          "413": TOO_LARGE, "503": NO_OWNER, "504": TIMED_OUT},
        }},
        "/v1/orders/{order_id}": {"get": {
            "summary": "The latest state of an order; waits while it is absent.", **order_query,
        }},
        "/v1/orders/{order_id}/validated": {"get": {
            "summary": "The order once VALIDATED or FAILED.", **order_query,
        }},
        "/v1/orders/{order_id}/timeline": {"get": {
            "summary": "Every event about an order, with its topic, partition, offset and time.",
            "parameters": [order_id, _timeout()],
            "responses": {"200": _answer("The events, in the order the owner read them.", Timeline),
                          "400": MALFORMED, "404": _answer("No event of the order was read."),
                          "503": NO_OWNER},
        }},
        "/v1/customers/{customer_id}/emails/{order_id}": {"get": {
            "summary": "The email sent to a customer for an order, with its record on `emails`.",
            "parameters": [customer_id, order_id, _timeout()],
            "responses": {"200": _answer("The email's event.", TimelineEntry), "400": MALFORMED,
                          "404": _answer("No email went out for the order."), "503": NO_OWNER},
        }},
        "/v1/payments": {"post": {
            "summary": "Record a payment for an order (once per payment id).",
            "parameters": [_timeout()], "requestBody": _body(NewPayment),
            "responses": {"201": _answer("Recorded.", Payment),
                          "200": _answer("Recorded before, this same payment.", Payment),
                          "400": MALFORMED,
                          "409": _answer("The id holds another payment (`details.stored`)."),
                          "413": TOO_LARGE, "503": NO_OWNER, "504": TIMED_OUT},
        }},
        "/v1/inventory/{product}": _put_and_get(
            product, StockLevel, StockSet, InventoryLevels,
            put="Set the absolute stock level of a product.",
            get="Stock, reserved and available units of a product.",
        ),
        "/v1/inventory": {"get": {
            "summary": "Stock, reserved and available units of every product, by product.",
            "parameters": [_timeout()],
            "responses": {"200": _answer("The levels.", Inventory), "503": NO_OWNER},
        }},
        "/v1/customers/{customer_id}": _put_and_get(
            customer_id, NewCustomer, Customer, Customer, put="Create or update a customer.",
            get="A customer.", missing=_answer("Unknown customer."),
        ),
        "/v1/order-bursts": {"get": {
            "summary": "The latest alert of each recent burst window, oldest window first.",
            "parameters": [
                {"name": "customerId", "in": "query", "required": False,
                 "description": "Only this customer's bursts (answered by its owner).",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
                {"name": "since", "in": "query", "required": False,
                 "description": "Only windows that end after this time (ISO 8601 with a zone).",
                 "schema": {"type": "string", "format": "date-time"}},
                _timeout(),
            ],
            "responses": {"200": _answer("The alerts.", OrderBursts), "400": MALFORMED,
                          "503": NO_OWNER},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "faust-orders", "version": "1",
            "description": f"Request bodies are at most {settings.max_body_bytes} bytes.",
        },
        "paths": paths,
        "components": {"schemas": schemas["$defs"]},
    }


@app.page("/openapi.json")
class OpenApiView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return self.json(openapi_document())
