"""Schemas in a real registry (the session's Apicurio, or SCHEMA_REGISTRY_URL) with real workers:
subjects and compatibility after start-up, framed records on the topics, a worker that refuses
an incompatible schema, dead letters for unknown ids, and a registry that restarts or is away."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import aiohttp
import pytest

from app import topics
from app.broker import free_port_pair
from app.processes import faust_command
from app.registry import LocalRegistry
from app.schemas import CONTENT_TYPE, RegistryClient
from app.settings import Settings
from models.records import Order
from models.schemas import json_schema
from tests.integration.api import new_customer, new_product, outcome, place, set_stock
from tests.integration.conftest import eventually

#: Every topic whose records the app describes: all but empty notices, the loader's private
#: checkpoints and dead letters (which hold whatever came).
SUBJECTS = sorted(f"{t.base_name}-value" for t in topics.ALL if t.value_type is not None)
#: The subjects of the topics other teams read (../shared/SPEC.md).
PUBLIC = {f"{name}-value" for name in ("orders", "payments", "customers", "warehouse-inventory",
                                       "emails", "platinum", "gold", "silver", "bronze")}


async def call(http: aiohttp.ClientSession, method: str, url: str, body: dict | None = None):
    async with http.request(method, url, json=body,
                            headers={"Content-Type": CONTENT_TYPE}) as answer:
        return answer.status, await answer.json(content_type=None)


def schema_body(schema: dict) -> dict:
    return {"schemaType": "JSON", "schema": json.dumps(schema)}


async def test_every_topic_has_a_subject_with_backward_compatibility(orders_app, registry, http):
    status, subjects = await call(http, "GET", f"{registry}/subjects")
    assert status == 200
    mine = sorted(s.removeprefix(orders_app.topic_prefix) for s in subjects
                  if s.startswith(orders_app.topic_prefix))
    assert mine == SUBJECTS
    assert PUBLIC <= set(mine)
    for subject in mine:
        status, config = await call(http, "GET", f"{registry}/config/{orders_app.topic_prefix}{subject}")
        assert status == 200 and config["compatibilityLevel"] == "BACKWARD", (subject, config)


async def test_workers_of_a_new_app_setting_a_subjects_compatibility_at_once_all_succeed(registry):
    # Three workers of a new app started together: Apicurio answered all but the first PUT of
    # the subject's rule with 409 "already exists", and those workers exited.
    subject = f"together-{time.time_ns()}-value"
    clients = [RegistryClient(registry) for _ in range(5)]
    try:
        await asyncio.gather(*(c.set_compatibility(subject, "BACKWARD") for c in clients))
    finally:
        for client in clients:
            await client.close()


async def test_an_order_is_framed_with_an_id_the_registry_resolves_to_its_schema(
    orders_app, registry, http
):
    url = orders_app.workers[0].url
    product = new_product()
    await set_stock(http, url, product, 5)
    order_id = await place(http, url, product=product)
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    [record, *_] = [r for r in await orders_app.read_records("orders") if r.key == order_id.encode()]
    assert record.value[0] == 0
    schema_id = int.from_bytes(record.value[1:5], "big")
    status, by_id = await call(http, "GET", f"{registry}/schemas/ids/{schema_id}")
    assert status == 200 and json.loads(by_id["schema"]) == json_schema(Order)
    assert json.loads(record.value[5:])["id"] == order_id


async def test_a_framed_record_from_another_client_is_read_and_an_unknown_id_is_a_dead_letter(
    orders_app, http
):
    url = orders_app.workers[0].url
    product, order_id = new_product(), f"client-{new_product()}"
    await set_stock(http, url, product, 5)
    command = {"requestId": "another-client", "order": {
        "id": order_id, "customerId": new_customer(), "state": "CREATED", "product": product,
        "quantity": 1, "price": 5.0}}
    # Framed by the test (magic byte, the registry's id, JSON), as any Confluent client frames it.
    await orders_app.produce("order-requests", order_id.encode(), json.dumps(command).encode())
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"

    unknown_id = 2**31 - 7
    stray = b"\x00" + unknown_id.to_bytes(4, "big") + json.dumps(command).encode()
    await orders_app.produce_raw("order-requests", b"stray", stray)

    async def dead_letters():
        return [r for r in await orders_app.read_records("order-requests-dead-letters")
                if r.key == b"stray"]

    [dead] = await eventually(dead_letters, timeout=30)
    assert dead.value == stray
    assert dict(dead.headers)["error"].decode() == (
        f"schema id {unknown_id} is not a version of {orders_app.topic('order-requests')}-value "
        "(the registry does not have it)")


async def test_an_incompatible_schema_is_refused_and_its_worker_does_not_start(
    new_app, registry, http
):
    app = new_app()
    subject = f"{app.topic('orders')}-value"
    # What an older release registered: orders carried a required `warehouse`. The code's schema
    # has no such field, so its readers would refuse those records (closed content model).
    older = json_schema(Order)
    older["properties"]["warehouse"] = {"type": "string"}
    older["required"].append("warehouse")
    assert (await call(http, "PUT", f"{registry}/config/{subject}", {"compatibility": "BACKWARD"}))[0] == 200
    assert (await call(http, "POST", f"{registry}/subjects/{subject}/versions", schema_body(older)))[0] == 200

    # The registry refuses the change itself ...
    status, answer = await call(http, "POST", f"{registry}/subjects/{subject}/versions",
                                schema_body(json_schema(Order)))
    assert status == 409, answer
    retyped = json_schema(Order)
    retyped["properties"]["quantity"] = {"type": "string"}
    status, _ = await call(http, "POST", f"{registry}/subjects/{subject}/versions", schema_body(retyped))
    assert status == 409

    # ... and a worker with it does not start, naming the subject and the field ...
    with pytest.raises(RuntimeError, match="exited early") as refused:
        app.add_worker()
    assert f"{subject}: record.warehouse: removed" in str(refused.value)
    # ... and registers none of its other subjects.
    status, subjects = await call(http, "GET", f"{registry}/subjects")
    assert [s for s in subjects if s.startswith(app.topic_prefix)] == [subject]

    # The check CI runs says so too, and fails.
    check = schemas_check(app)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"BREAKING    {subject}: record.warehouse: removed" in check.stdout


def schemas_check(app) -> subprocess.CompletedProcess:
    environment = {**os.environ, "KAFKA_BOOTSTRAP": app.kafka.bootstrap,
                   "SCHEMA_REGISTRY_URL": app.registry_url, "TOPIC_PREFIX": app.topic_prefix,
                   "APP_ID": app.app_id}
    return subprocess.run(faust_command("schemas", "check"), env=environment,
                          capture_output=True, text=True, timeout=120)


def test_the_check_passes_when_the_code_matches_the_registry(orders_app):
    check = schemas_check(orders_app)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = check.stdout.splitlines()
    assert len(lines) == len(SUBJECTS) and all(line.startswith("unchanged") for line in lines)


async def test_workers_ride_out_a_registry_outage_and_ids_survive_its_restart(
    kafka, new_app, tmp_path, http
):
    local = LocalRegistry(port=free_port_pair(), bootstrap=kafka.bootstrap, log_dir=tmp_path,
                          cache_dir=Settings.from_env().kafka_cache_dir)
    with local:
        app = new_app({"SCHEMA_REGISTRY_URL": local.url})
        url = app.add_worker().url
        ids = {name: await app.schema_id(name) for name in ("orders", "order-requests")}

    # The registry is down: the running worker goes on with the ids it has.
    product = new_product()
    await set_stock(http, url, product, 5)
    order_id = await place(http, url, product=product)
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"

    # A worker of another app starts now: its subjects wait for the registry, saying so.
    second = new_app({"SCHEMA_REGISTRY_URL": local.url}).add_worker(healthy=False)
    deadline = time.monotonic() + 60
    while "schema registry unavailable for subject" not in second.log_file.read_text():
        assert time.monotonic() < deadline, second.log_tail()
        await asyncio.sleep(0.5)
    assert second.health() is None or second.health()[0] != 200

    with local:  # back: the waiting worker registers and serves; the ids are the same
        second.wait_healthy()
        assert {name: await app.schema_id(name) for name in ids} == ids
