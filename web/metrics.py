"""`GET /metrics`: this worker's metrics in the Prometheus text format."""

from __future__ import annotations

from faust import web

from app import metrics, topics
from app.main import app

INPUT_TOPICS = frozenset(topic.get_topic_name() for topic in topics.INPUTS)


@app.page("/metrics")
class MetricsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        monitor = self.app.monitor
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic in INPUT_TOPICS]
        lag = metrics.lag_by_topic(assigned, monitor.tp_end_offsets, monitor.tp_committed_offsets)
        return self.bytes(metrics.render(lag), content_type="text/plain; version=0.0.4")
