"""`GET /`: the dashboard, served by every worker from its own files (`web/static/`): plain
HTML, CSS and JavaScript, no build step, nothing fetched from elsewhere. It shows the whole
system live from `GET /v1/events` (web/events.py) and places orders through the API.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from faust import web

from app.main import app
from web.http import HttpError

STATIC = Path(__file__).with_name("static")
#: The files served, and their content types: nothing else under `/static/`.
FILES = {
    "index.html": "text/html", "dashboard.js": "text/javascript", "dashboard.css": "text/css",
}


@cache
def _content(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _file(view: web.View, name: str) -> web.Response:
    response = view.bytes(_content(name), content_type=FILES[name])
    response.headers["Cache-Control"] = "no-cache"  # a new release shows at the next load
    return response


@app.page("/")
class DashboardView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        return _file(self, "index.html")


@app.page("/static/{name}")
class StaticView(web.View):
    async def get(self, request: web.Request, name: str) -> web.Response:
        if name not in FILES:
            return HttpError(404, f"no file {name}").response(self)
        return _file(self, name)
