"""`GET /health`: 200 once this worker has its assignment and has recovered its tables; it
names the schema registry the worker uses and how many subjects it registered."""

from __future__ import annotations

from faust import web

from app.main import app


def readiness(app) -> tuple[bool, str]:
    recovery = app.tables.recovery
    if not recovery.completed.is_set():
        return False, "joining the consumer group and recovering tables"
    if app.rebalancing or recovery.in_recovery:
        return False, "rebalancing: recovering tables"
    return True, "ready"


@app.page("/health")
class HealthView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        ready, status = readiness(self.app)
        assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in self.app.consumer.assignment())
        schemas = self.app.schemas
        registered = sum(1 for topic in schemas.topics.values() if topic.schema_id is not None)
        return self.json({
            "status": status, "assignment": assigned,
            "schemaRegistry": {"url": schemas.url, "subjectsRegistered": registered},
        }, status=200 if ready else 503)
