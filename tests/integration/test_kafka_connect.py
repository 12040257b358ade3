"""The local Kafka Connect worker (app/connect.py) against the session's broker: Apache Kafka
Connect 4.3.1 in distributed mode, its state in topics of that broker."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from app.broker import free_port
from app.connect import LocalConnect
from app.settings import Settings


async def test_the_local_connect_worker_serves_kafka_connect_4_3_1_with_its_state_in_kafka(
    kafka, tmp_path
):
    worker = LocalConnect(port=free_port(), bootstrap=kafka.bootstrap, data_dir=tmp_path,
                          cache_dir=Settings.from_env().kafka_cache_dir,
                          group_id=f"connect-{uuid.uuid4().hex[:8]}")
    with worker:
        info = worker.info()
    assert info["version"] == "4.3.1"

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        assert (await admin.describe_cluster())["cluster_id"] == info["kafka_cluster_id"]
        assert set(worker.storage_topics.values()) <= set(await admin.list_topics())
    finally:
        await admin.close()
