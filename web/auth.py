"""Tokens for the HTTP API: with `API_TOKEN` set, every write (POST, PUT, PATCH, DELETE) needs
`Authorization: Bearer <API_TOKEN>`; with `API_READ_TOKEN` set too, so does every read, with
either token, except `/health` (for probes) and the dashboard's page and files (they hold no
data: the page asks for a token when its data needs one). Unset: open. A request without the
right token gets 401 with a JSON error; tokens are compared in constant time.

Workers forwarding a request to the owner of its key pass its `Authorization` on
(web/routing.py); a worker asking another for its part of an answer sends its own token.
"""

from __future__ import annotations

import hmac

from aiohttp import web as aiohttp_web

from app.main import app, settings

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths every reader may GET whatever the tokens.
OPEN_PATHS = frozenset({"/health", "/", "/static/dashboard.js", "/static/dashboard.css",
                        "/static/index.html"})


def accepted_tokens(method: str, path: str, api_token: str | None,
                    read_token: str | None) -> tuple[str, ...]:
    """The tokens of which a request needs one; none: it is open."""
    if method in WRITES:
        return (api_token,) if api_token else ()
    if read_token and path not in OPEN_PATHS:
        return tuple(token for token in (read_token, api_token) if token)
    return ()


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def allowed(presented: str | None, accepted: tuple[str, ...]) -> bool:
    if not accepted:
        return True
    if presented is None:
        return False
    # Every token compared, each in constant time: no answer tells how much of one matched.
    matches = [hmac.compare_digest(presented.encode(), token.encode()) for token in accepted]
    return any(matches)


def own_token() -> str | None:
    """What this worker sends when it asks another for a part of an answer."""
    return settings.api_read_token or settings.api_token


@aiohttp_web.middleware
async def require_token(request: aiohttp_web.Request, handler):
    accepted = accepted_tokens(
        request.method, request.path, settings.api_token, settings.api_read_token)
    presented = bearer(request.headers.get("Authorization"))
    if not allowed(presented, accepted):
        error = "a token is needed" if presented is None else "the token is not accepted"
        return aiohttp_web.json_response(
            {"error": f"{error}: send Authorization: Bearer <token>",
             "details": {"needs": "API_TOKEN" if request.method in WRITES else "API_READ_TOKEN"}},
            status=401, headers={"WWW-Authenticate": 'Bearer realm="faust-orders"'})
    return await handler(request)


app.declare(lambda built: built.web.web_app.middlewares.append(require_token))
