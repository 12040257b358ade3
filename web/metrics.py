"""`GET /metrics`: this worker's metrics in the Prometheus text format."""

from __future__ import annotations

from faust import web

from agents.validations import held_partitions
from app import metrics, topics
from app.main import app
from app.framework.store import shared_memory
from app.framework.table import Table


@app.page("/metrics")
class MetricsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        monitor = self.app.monitor
        inputs = {topic.get_topic_name() for topic in topics.INPUTS}
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic in inputs]
        lag = metrics.lag_by_topic(assigned, monitor.tp_end_offsets,
                                   self.app.consumer.committed_offsets())
        memory = shared_memory()
        table_bytes = {"block_cache": memory.block_cache.get_usage(),
                       "memtables": memory.write_buffers.get_usage()}
        pending = sum(table.pending_writes() for table in self.app.tables.values()
                      if isinstance(table, Table))
        return self.bytes(
            metrics.render(lag, table_bytes, pending, len(held_partitions()),
                           self.app.consumer.commit_age()),
            content_type="text/plain; version=0.0.4"
        )
