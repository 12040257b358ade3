"""`GET /health`: 200 once this worker has its assignment and has recovered its tables; it
names the schema registry the worker uses and how many subjects it registered."""

from __future__ import annotations

from faust import web
from faust.exceptions import ConsumerNotStarted

from app.main import app


def readiness(app) -> tuple[bool, str]:
    recovery = app.tables.recovery
    if not recovery.completed.is_set():
        return False, "joining the consumer group and recovering tables"
    if app.rebalancing or recovery.in_recovery:
        return False, "rebalancing: recovering tables"
    return True, "ready"


def assignment(app) -> list[str]:
    """The partitions assigned to this worker, as `topic[partition]`; none while its consumer
    has not started (the worker creates its topics and registers its schemas first)."""
    try:
        assigned = app.consumer.assignment()
    except ConsumerNotStarted:
        return []
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)


@app.page("/health")
class HealthView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        ready, status = readiness(self.app)
        assigned = assignment(self.app)
        schemas = self.app.schemas
        registered = sum(1 for topic in schemas.topics.values() if topic.schema_id is not None)
        return self.json({
            "status": status, "assignment": assigned,
            "schemaRegistry": {"url": schemas.url, "subjectsRegistered": registered},
        }, status=200 if ready else 503)
