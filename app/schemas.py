"""Every topic's value schema in a schema registry, and records framed with its id.

Each topic that carries this app's records (`app/topics.py`, a topic declared with `value=`) has
one subject, `<topic>-value` (Confluent's TopicNameStrategy), with compatibility BACKWARD and the
JSON Schema of its records (`models/schemas.py`). A record's value is framed in Confluent's wire
format: byte 0 (the magic byte), the schema id (4 bytes, big-endian), the JSON payload; standard
clients and Kafka Connect's converters read it. Keys stay plain UTF-8 strings.

`Schemas.register()` runs before a worker or a command writes anything: it sets each subject's
compatibility, asks the registry whether the code's schema may follow the latest registered one,
and registers it (the registry answers the existing id for a schema it has). An incompatible
schema stops the start with `SchemaIncompatible`, naming the subject and the fields. A registry
that does not answer is waited for, with a log line per attempt.

Ids are kept: writing frames with the topic's own id, and reading accepts it and every id the
registry has confirmed for the subject, with one registry call for an id seen the first time (a
record of an older or newer version of the schema) and none afterwards. A record whose id the
registry does not have under the subject, or that is not framed, is refused (`Unreadable`: the
reader sends it to dead letters).
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

import aiohttp

from models.schemas import JSON, breaking_changes, json_schema

log = logging.getLogger(__name__)

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
COMPATIBILITY = "BACKWARD"
#: The longest wait between two attempts to reach the registry.
MAX_RETRY_S = 10.0
_REQUIRED = object()


class Unreadable(ValueError):
    """A record's value is not framed, or framed with an id that is not its topic's."""


class SchemaIncompatible(RuntimeError):
    """The code's schema of a subject may not follow the registered one."""


class RegistryUnavailable(RuntimeError):
    """The registry did not answer (a connection error or a server error)."""


def frame(schema_id: int, payload: bytes) -> bytes:
    """A value in Confluent's wire format."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + payload


def unframe(raw: bytes | None) -> tuple[int, bytes]:
    """A framed value's schema id and payload."""
    if raw is None:
        raise Unreadable("no value (a tombstone)")
    if len(raw) < _HEADER.size or raw[0] != MAGIC_BYTE:
        raise Unreadable("not in the Confluent wire format (magic byte 0 and a 4-byte schema id)")
    _, schema_id = _HEADER.unpack_from(raw)
    return schema_id, raw[_HEADER.size:]


def subject_of(topic: str) -> str:
    return f"{topic}-value"


class RegistryClient:
    """The Confluent-compatible API of a schema registry at `url` (what SCHEMA_REGISTRY_URL names)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _call(self, method: str, path: str, body: JSON | None = None) -> tuple[int, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
                timeout=aiohttp.ClientTimeout(total=10),
            )
        try:
            async with self._http.request(method, self.url + path, json=body) as answer:
                text = await answer.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RegistryUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if answer.status >= 500:
            raise RegistryUnavailable(f"{method} {self.url}{path}: {answer.status} {text[:300]}")
        try:
            return answer.status, json.loads(text) if text else None
        except ValueError:
            raise RegistryUnavailable(f"{method} {self.url}{path}: not JSON: {text[:300]}") from None

    async def _expect(
        self, method: str, path: str, body: JSON | None = None, *, absent: Any = _REQUIRED,
    ) -> Any:
        """The answer to a call; `absent` for a 404 when given, else an error for any 4xx."""
        status, answer = await self._call(method, path, body)
        if status == 404 and absent is not _REQUIRED:
            return absent
        if status >= 400:
            raise RuntimeError(f"{method} {self.url}{path}: {status} {answer}")
        return answer

    async def set_compatibility(self, subject: str, level: str) -> None:
        status, answer = await self._call("PUT", f"/config/{subject}", {"compatibility": level})
        if status == 409:
            # Workers of a new app start together: Apicurio answers the second PUT of a
            # subject's first rule with 409 "already exists". The rule set is what counts.
            current = await self._expect("GET", f"/config/{subject}", absent={})
            if current.get("compatibilityLevel", current.get("compatibility")) == level:
                return
        if status >= 400:
            raise RuntimeError(f"PUT {self.url}/config/{subject}: {status} {answer}")

    async def latest(self, subject: str) -> tuple[int, JSON] | None:
        """The latest version's id and schema, or None for a subject without one."""
        answer = await self._expect("GET", f"/subjects/{subject}/versions/latest", absent=None)
        return None if answer is None else (answer["id"], json.loads(answer["schema"]))

    async def is_compatible(self, subject: str, schema: JSON) -> bool:
        answer = await self._expect(
            "POST", f"/compatibility/subjects/{subject}/versions/latest", _body(schema))
        return bool(answer["is_compatible"])

    async def register(self, subject: str, schema: JSON) -> int:
        """The id of `schema` under `subject`, registered as a new version unless it is one."""
        status, answer = await self._call("POST", f"/subjects/{subject}/versions", _body(schema))
        if status == 409:  # another release registered a version since the check: no follower
            raise SchemaIncompatible(f"{subject}: the registry refused the schema: {answer}")
        if status >= 400:
            raise RuntimeError(f"POST {self.url}/subjects/{subject}/versions: {status} {answer}")
        return answer["id"]

    async def subjects_of(self, schema_id: int) -> list[str]:
        """The subjects that have schema `schema_id` as a version (none for an unknown id)."""
        answer = await self._expect("GET", f"/schemas/ids/{schema_id}/versions", absent=[])
        return [version["subject"] for version in answer]


def _body(schema: JSON) -> JSON:
    return {"schemaType": "JSON", "schema": json.dumps(schema)}


@dataclass
class TopicSchema:
    """One topic's subject, the code's schema of its values, and the ids its records may carry."""

    topic: str
    schema: JSON
    #: The id this code frames its records with (None until registered).
    schema_id: int | None = None
    #: Ids the registry confirmed for the subject (other versions), and ids it did not.
    accepted: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return subject_of(self.topic)

    def use(self, schema_id: int) -> None:
        """Frame with `schema_id` and accept it."""
        self.schema_id = schema_id
        self.accepted.add(schema_id)

    def frame(self, payload: bytes) -> bytes:
        if self.schema_id is None:
            raise RuntimeError(f"{self.subject} is not registered yet (Schemas.register)")
        return frame(self.schema_id, payload)

    def payload(self, raw: bytes) -> bytes:
        """The payload of a record of this topic; `UnknownId` for an id not yet asked about."""
        schema_id, payload = unframe(raw)
        if schema_id in self.accepted:
            return payload
        if schema_id in self.refused:
            raise Unreadable(self.refused[schema_id])
        raise UnknownId(schema_id)


class UnknownId(Exception):
    """A record framed with an id the registry was not asked about yet."""

    def __init__(self, schema_id: int) -> None:
        super().__init__(schema_id)
        self.schema_id = schema_id


class Schemas:
    """The schemas of a set of topics (by full topic name) and the registry that holds them."""

    def __init__(self, registry_url: str) -> None:
        self.registry = RegistryClient(registry_url)
        self.topics: dict[str, TopicSchema] = {}

    @classmethod
    def of(cls, registry_url: str, topic_prefix: str, topics: Iterable[Any]) -> Schemas:
        """The schemas of `topics` (handles of `app.topics`) under `topic_prefix`: for tools that
        write or read the app's topics without an app."""
        schemas = cls(registry_url)
        for topic in topics:
            schemas.add(topic_prefix + topic.base_name, topic.value_type)
        return schemas

    @property
    def url(self) -> str:
        return self.registry.url

    def add(self, topic: str, value_type: Any) -> None:
        self.topics[topic] = TopicSchema(topic, json_schema(value_type))

    def frame(self, topic: str, payload: bytes) -> bytes:
        """`payload` framed for `topic` (unchanged for a topic without a schema)."""
        known = self.topics.get(topic)
        return payload if known is None else known.frame(payload)

    async def ask_about(self, known: TopicSchema, schema_id: int) -> None:
        """Ask the registry whether `schema_id` is a version of the topic's subject, and keep the
        answer (waiting for a registry that does not answer)."""
        subjects = await _retrying(lambda: self.registry.subjects_of(schema_id),
                                   f"schema id {schema_id} of a record on {known.topic}")
        if known.subject in subjects:
            known.accepted.add(schema_id)
        else:
            known.refused[schema_id] = (
                f"schema id {schema_id} is not a version of {known.subject} "
                + (f"(it is one of {', '.join(sorted(subjects))})" if subjects
                   else "(the registry does not have it)"))

    async def register(self) -> None:
        """Register the schemas not registered yet, waiting for the registry if needed. If one
        may not follow its registered schema, none is registered and `SchemaIncompatible` names
        every such subject and field."""
        wanted = [known for known in self.topics.values() if known.schema_id is None]
        problems = await asyncio.gather(*(
            _retrying(lambda known=known: self.problems(known), f"subject {known.subject}")
            for known in wanted))
        breaking = [f"{known.subject}: {'; '.join(found)}"
                    for known, found in zip(wanted, problems) if found]
        if breaking:
            raise SchemaIncompatible(
                "the code's schemas cannot read records already registered (compatibility "
                f"{COMPATIBILITY}): " + " | ".join(breaking))
        await asyncio.gather(*(
            _retrying(lambda known=known: self._register(known), f"subject {known.subject}")
            for known in wanted))

    async def _register(self, known: TopicSchema) -> None:
        await self.registry.set_compatibility(known.subject, COMPATIBILITY)
        known.use(await self.registry.register(known.subject, known.schema))
        log.info("schema of %s: id %s", known.subject, known.schema_id)

    async def problems(self, known: TopicSchema) -> list[str]:
        """Why the code's schema may not follow the registered one (empty when it may, or when
        the subject is new)."""
        latest = await self.registry.latest(known.subject)
        if latest is None or await self.registry.is_compatible(known.subject, known.schema):
            return []
        reasons = breaking_changes(latest[1], known.schema)
        return reasons or [f"the registry finds it incompatible with schema id {latest[0]}"]

    async def close(self) -> None:
        await self.registry.close()


async def _retrying(call: Any, what: str) -> Any:
    """`await call()`, again and again while the registry does not answer."""
    delay = 0.5
    while True:
        try:
            return await call()
        except RegistryUnavailable as exc:
            log.warning("schema registry unavailable for %s, retrying in %.1f s: %s",
                        what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)
