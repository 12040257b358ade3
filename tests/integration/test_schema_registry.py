"""The local schema registry (app/registry.py), against the test session's broker: Apicurio
Registry keeps its schemas in Kafka, so a restart keeps every schema and its id."""

from __future__ import annotations

import json
import uuid

import aiohttp

from app.broker import free_port_pair
from app.registry import LocalRegistry
from app.settings import Settings

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


async def test_the_local_registry_keeps_schemas_and_ids_across_a_restart(kafka, tmp_path):
    registry = LocalRegistry(port=free_port_pair(), bootstrap=kafka.bootstrap, log_dir=tmp_path,
                             cache_dir=Settings.from_env().kafka_cache_dir)
    subject = f"orders-{uuid.uuid4().hex[:8]}-value"
    body = {"schemaType": "JSON", "schema": json.dumps(SCHEMA)}
    async with aiohttp.ClientSession(headers={"Content-Type": CONTENT_TYPE}) as http:
        with registry:
            async with http.post(f"{registry.url}/subjects/{subject}/versions", json=body) as answer:
                assert answer.status == 200, await answer.text()
                schema_id = (await answer.json())["id"]
        with registry:
            async with http.get(f"{registry.url}/subjects/{subject}/versions/latest") as answer:
                latest = await answer.json()
            async with http.get(f"{registry.url}/schemas/ids/{schema_id}") as answer:
                by_id = await answer.json()
    assert latest["id"] == schema_id and latest["version"] == 1
    assert json.loads(latest["schema"]) == json.loads(by_id["schema"]) == SCHEMA
