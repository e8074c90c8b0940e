"""FastAPI app. Routes:

    GET  /api/catalog            switch, NIC, GPU, server, optic and model names
    POST /api/plan               intent (JSON or YAML text) -> design summary, BOM, expectations
    POST /api/plan/files/{name}  the same intent -> one plan file (fabric.json, bom.csv, topology.svg, ...)
    GET  /                       the web UI (a page that plans an intent and shows the result)

Bad input answers 422 with the same message the CLI prints."""

from __future__ import annotations

from importlib import resources

import yaml
from fastapi import Body, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from tokenfab import __version__, parse_intent, plan
from tokenfab.catalog import load_catalog
from tokenfab.errors import InputError

app = FastAPI(title="tokenfab", version=__version__)

MEDIA = {".json": "application/json", ".csv": "text/csv", ".svg": "image/svg+xml", ".txt": "text/plain"}


def _fabric(intent: dict | str):
    if isinstance(intent, str):
        try:
            intent = yaml.safe_load(intent)
        except yaml.YAMLError as exc:
            raise HTTPException(422, f"not valid YAML: {exc}") from None
    try:
        return plan(parse_intent(intent, "intent"))
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


@app.get("/api/catalog")
def catalog() -> dict:
    cat = load_catalog()
    return {kind: sorted(getattr(cat, kind)) for kind in ("switches", "nics", "gpus", "servers", "optics", "models")}


@app.post("/api/plan")
def plan_route(intent: dict | str = Body(..., description="the intent as JSON, or YAML text")) -> dict:
    from tokenfab.report.tables import bom_rows, totals

    f = _fabric(intent)
    return {"design": f.design, "totals": totals(f), "bom": bom_rows(f), "expectations": {
        k: v for k, v in f.expectations.items() if k != "leaf_ecmp_links"}, "counts": f.counts()}


@app.post("/api/plan/files/{name}")
def plan_file(name: str, intent: dict | str = Body(...)) -> Response:
    from tokenfab.report import plan_files

    f = _fabric(intent)
    files = plan_files(f)
    if name not in files:
        raise HTTPException(404, f"no plan file {name!r}; plan files are {', '.join(files)}")
    suffix = name[name.rfind("."):]
    return PlainTextResponse(files[name], media_type=MEDIA.get(suffix, "text/plain"))


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    return resources.files("tokenfab.server").joinpath("static", "index.html").read_text()
