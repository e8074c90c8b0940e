"""FastAPI app. Routes:

    GET  /api/catalog            switch, NIC, GPU, server and optic models
    POST /api/plan               intent (JSON or YAML text) -> design summary, BOM, expectations
    POST /api/plan/files/{name}  the same intent -> one plan file (fabric.json, bom.csv, topology.svg, ...)
    GET  /                       the web UI (a page that plans an intent and shows the result)

Bad input answers 422 with the same message the CLI prints, in FastAPI's validation-error shape
({"detail": [{"loc", "msg", "type"}]}); a body over 1 MiB answers 413."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from tokenfab import __version__, parse_intent, plan
from tokenfab.catalog import load_catalog
from tokenfab.errors import InputError, shorten
from tokenfab.fileio import parse_json, parse_yaml

app = FastAPI(title="tokenfab", version=__version__)

MEDIA = {".json": "application/json", ".csv": "text/csv", ".svg": "image/svg+xml", ".txt": "text/plain"}
MAX_BODY_BYTES = 1 * 2**20  # an intent is a few KB
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
# the request body as OpenAPI documents it (the body is read and checked by _intent, not by FastAPI)
INTENT_BODY = {"requestBody": {"required": True, "description": "the intent as JSON, or YAML text (a JSON string, "
                               "or the body itself with Content-Type text/yaml)", "content": {
    "application/json": {"schema": {"anyOf": [{"type": "object"}, {"type": "string"}]}},
    "text/yaml": {"schema": {"type": "string"}}}}}


class BadBody(Exception):
    """A request body refused with a message; answered as FastAPI's own validation errors are."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        self.message, self.field, self.status = message, field, status


@app.exception_handler(BadBody)
async def _bad_body(request: Request, exc: BadBody) -> JSONResponse:
    # the shape OpenAPI documents for 422 (HTTPValidationError): {"detail": [{loc, msg, type}]}
    loc = ["body", *(exc.field.split(".") if exc.field else [])]
    return JSONResponse({"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}, status_code=exc.status)


async def _intent(request: Request) -> Any:
    """The body, size-limited, UTF-8, parsed by the same guarded readers as files."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadBody(f"request body of {int(declared):,} bytes; at most {MAX_BODY_BYTES:,}", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadBody(f"request body larger than {MAX_BODY_BYTES:,} bytes", status=413)
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        if kind in YAML_TYPES:
            return parse_yaml(text, "intent")
        if kind not in ("application/json", ""):
            raise BadBody(f"unsupported content type {shorten(kind, 60)!r}; send application/json or text/yaml",
                          status=415)
        data = parse_json(text, "intent")
        return parse_yaml(data, "intent") if isinstance(data, str) else data
    except InputError as exc:
        raise BadBody(str(exc), exc.field) from None


def _fabric(intent: Any):
    try:
        return plan(parse_intent(intent, "intent"))
    except InputError as exc:
        raise BadBody(str(exc), exc.field) from None


@app.get("/api/catalog")
def catalog() -> dict:
    cat = load_catalog()
    return {kind: sorted(getattr(cat, kind)) for kind in ("switches", "nics", "gpus", "servers", "optics")}


@app.post("/api/plan", openapi_extra=INTENT_BODY,
          responses={413: {"description": "request body too large"}, 422: {"description": "bad intent"}})
async def plan_route(request: Request) -> dict:
    from tokenfab.report.tables import bom_rows, totals

    f = await run_in_threadpool(_fabric, await _intent(request))  # planning is CPU work: off the event loop
    return {"design": f.design, "totals": totals(f), "bom": bom_rows(f), "expectations": {
        k: v for k, v in f.expectations.items() if k != "leaf_ecmp_links"}, "counts": f.counts()}


@app.post("/api/plan/files/{name}", openapi_extra=INTENT_BODY)
async def plan_file(name: str, request: Request) -> Response:
    from tokenfab.report import plan_files

    f = await run_in_threadpool(_fabric, await _intent(request))  # planning is CPU work: off the event loop
    files = plan_files(f)
    if name not in files:
        raise HTTPException(404, f"no plan file {name!r}; plan files are {', '.join(files)}")
    suffix = name[name.rfind("."):]
    return PlainTextResponse(files[name], media_type=MEDIA.get(suffix, "text/plain"))


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    return resources.files("tokenfab.server").joinpath("static", "index.html").read_text()
