"""What every view shares: JSON errors, checked path parameters, the `timeout` parameter,
bounded request bodies."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, TypeVar

from faust import TopicT, web
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.main import app, settings

M = TypeVar("M", bound=BaseModel)


class HttpError(Exception):
    """An outcome to answer with a JSON error: `{"error": ..., "details": ...}`."""

    def __init__(self, status: int, error: str, details: object = None) -> None:
        super().__init__(error)
        self.status, self.error, self.details = status, error, details

    def response(self, view: web.View) -> web.Response:
        return view.json({"error": self.error, "details": self.details}, status=self.status)


def outcome_unknown(error: HttpError) -> HttpError:
    """A write's 503 or 504 says that it may or may not have happened, and that sending the same
    body again is safe (writes are idempotent: the same order, payment or level again changes
    nothing); any other error as it is."""
    if error.status not in (503, 504):
        return error
    details = error.details if isinstance(error.details, dict) else {"details": error.details}
    return HttpError(error.status, f"{error.error}: the outcome is unknown; sending the same body "
                     "again is safe", {**details, "outcome": "unknown", "retrySafe": True})


class PathParameter:
    """A path segment of a pydantic type (an order id, a SKU): malformed ones get a 400."""

    def __init__(self, name: str, kind: Any) -> None:
        self.name, self._adapter = name, TypeAdapter(kind)

    def check(self, value: str) -> str:
        try:
            return self._adapter.validate_python(value)
        except ValidationError:
            raise HttpError(400, f"malformed {self.name}", {self.name: value}) from None


def timeout_seconds(request: web.Request) -> float:
    """The `?timeout=` query parameter (milliseconds) in seconds."""
    raw = request.query.get("timeout")
    if raw is None:
        return min(settings.http_default_timeout_ms, settings.http_max_timeout_ms) / 1000
    try:
        millis = int(raw)
    except ValueError:
        millis = -1
    if not 0 <= millis <= settings.http_max_timeout_ms:
        raise HttpError(
            400, f"timeout must be whole milliseconds from 0 to {settings.http_max_timeout_ms}",
            {"timeout": raw},
        )
    return millis / 1000


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 past MAX_BODY_BYTES without reading the rest."""
    limit = settings.max_body_bytes
    if (request.content_length or 0) > limit:
        raise HttpError(413, f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > limit:
            raise HttpError(413, f"request body over {limit} bytes")
    return bytes(body)


def parse_body(model: type[M], body: bytes) -> M:
    """Validate a JSON body, or answer 400 with what is wrong, field by field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        details = [
            {"field": ".".join(map(str, e["loc"])), "problem": e["msg"]} for e in exc.errors()
        ]
        raise HttpError(400, "malformed request body", details) from None


async def publish(
    topic: TopicT, key: str, value: bytes, timeout: float, timestamp: float | None = None
) -> None:
    """Write one record and wait until the broker has it, or answer 504 after `timeout` s."""

    async def acknowledged() -> None:
        acked = await app.outputs.send(topic, key, value, timestamp=timestamp)
        await asyncio.shield(acked)  # a timeout ends the wait, not the write

    try:
        await asyncio.wait_for(acknowledged(), timeout)
    except asyncio.TimeoutError:
        raise HttpError(
            504, f"the broker did not acknowledge within {timeout * 1000:.0f} ms"
        ) from None


class KeyLocks:
    """A lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
