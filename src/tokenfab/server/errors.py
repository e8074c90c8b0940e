"""The web app's one error shape, for every failure a request can meet:

    {"error": {"status": 422, "field": "cluster.servers", "message": "...", "accepted": "..."}}

`err` builds it for a route to raise; `install` makes FastAPI's, Starlette's, pydantic's, the job
queue's and tokenfab's own errors answer in it.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenfab.errors import InputError
from tokenfab.server.jobs import QueueFull
from tokenfab.server.security import excerpt


def err(status: int, message: str, field: str | None = None, accepted: str | None = None) -> HTTPException:
    return HTTPException(status, {"field": field, "message": message, "accepted": accepted})


def input_error(exc: InputError, status: int = 422) -> HTTPException:
    return err(status, str(exc), exc.field)


def _body(status: int, message: str, field: str | None = None, accepted: str | None = None) -> dict:
    return {"error": {"status": status, "field": field, "message": message, "accepted": accepted}}


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and Starlette's own (bad bodies, 404)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        d = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method the path answers, not only the first route's
            from starlette.routing import Match

            allowed = set()
            for route in app.router.routes:
                if route.matches(request.scope)[0] != Match.NONE and getattr(route, "methods", None):
                    allowed |= set(route.methods)
            headers["Allow"] = ", ".join(sorted(allowed))
        return JSONResponse(
            _body(exc.status_code, d.get("message", ""), d.get("field"), d.get("accepted")),
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def request_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path")]
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []) if p not in ('body', 'query', 'path')) or 'body'}: {e.get('msg', '')}"
            for e in exc.errors()[:10]
        )
        accepted = None
        if first.get("ctx", {}).get("expected"):
            accepted = excerpt(first["ctx"]["expected"], 200)
        return JSONResponse(_body(422, excerpt(msgs, 600), ".".join(loc) or None, accepted), status_code=422)

    @app.exception_handler(QueueFull)
    async def queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(_body(429, str(exc)), status_code=429, headers={"Retry-After": "10"})

    @app.exception_handler(InputError)
    async def input_problem(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(_body(422, excerpt(str(exc), 2000), exc.field), status_code=422)
