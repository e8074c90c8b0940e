"""The web app: every stage of tokenfab over a workspace of designs, as a REST API and a page.

`create_app(WORKSPACE)` builds the FastAPI app; `tokenfab serve` runs it. The routes call the same
functions as the CLI and read and write the same folders (see workspace.py). Long work runs as
background jobs (jobs.py); the page polls them. Every error has one shape (errors.py):

    {"error": {"status": 422, "field": "cluster.servers", "message": "...", "accepted": "..."}}

The interactive API documentation is at /docs (Swagger UI, served from the package, offline).
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import Body, FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from tokenfab import __version__
from tokenfab.errors import InputError
from tokenfab.server import errors
from tokenfab.server.compare import compare_designs
from tokenfab.server.errors import err, input_error
from tokenfab.server.intents import intent_record, no_server_files, parse_intent_text, problems
from tokenfab.server.models import (
    Design,
    DesignListItem,
    ErrorBody,
    FactoryRequest,
    IntentCheck,
    IntentText,
    Job,
    JobStarted,
    NewDesign,
    SimulateRequest,
    TableRows,
)
from tokenfab.server.plans import load_fabric, plan_record, remember
from tokenfab.server.security import Guard, excerpt, load_yaml_text
from tokenfab.server.workspace import Workspace, check_name

STATIC = Path(str(resources.files("tokenfab.server").joinpath("static")))
MEDIA = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".yaml": "text/yaml",
    ".yml": "text/yaml",
    ".conf": "text/plain",
    ".html": "text/html",
    ".sh": "text/plain",
}


# -- helpers ---------------------------------------------------------------------------------------
def _read_csv(path: Path) -> TableRows:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return TableRows(columns=rows[0] if rows else [], rows=rows[1:])


# -- the app ---------------------------------------------------------------------------------------
def create_app(
    workspace: str | Path = "tokenfab-workspace",
    token: str | None = None,
    max_body_bytes: int = 4 * 1024 * 1024,
    workers: int = 2,
) -> FastAPI:
    from tokenfab.server.jobs import Jobs

    ws = Workspace(Path(workspace))
    state: dict[str, Jobs] = {}

    def jobs() -> Jobs:
        if "jobs" not in state:
            state["jobs"] = Jobs(ws, workers)
        return state["jobs"]

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        jobs()
        yield
        state.pop("jobs").close()

    app = FastAPI(
        title="tokenfab",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description=__doc__,
        responses={code: {"model": ErrorBody} for code in (400, 401, 404, 409, 413, 422, 429)},
    )
    app.state.workspace = ws
    app.state.jobs = jobs

    errors.install(app)

    def design_or_404(name: str) -> str:
        try:
            check_name(name)
        except InputError as exc:
            raise input_error(exc, 404) from None
        if name not in ws.designs():
            raise err(404, f"no design {name!r}", "name", ", ".join(ws.designs()[:50]) or "(none yet)")
        return name

    def fabric_of(name: str):
        path = ws.plan_dir(name) / "fabric.json"
        if not path.exists():
            raise err(409, f"design {name!r} has no plan yet (its intent does not plan)", "intent")
        return load_fabric(path)

    def plan_into(name: str, intent) -> None:
        from tokenfab.design import design
        from tokenfab.report import write_plan

        fabric = design(intent)
        write_plan(fabric, ws.plan_dir(name), force=True)
        path = ws.plan_dir(name) / "fabric.json"
        st = path.stat()
        remember((str(path), st.st_mtime_ns, st.st_size), fabric)  # the next read needs no reload
        # fabric.json holds the intent as resolved (the search's choices written in); what was asked for is
        # kept beside the plan, keyed by the plan's version, to tell a current plan from a stale one
        resolved, _ = plan_record(str(path), st.st_mtime_ns, st.st_size)
        ws.save_planned(name, json.dumps(intent.model_dump(mode="json"), sort_keys=True), resolved)

    def status_of(name: str) -> tuple[str, str | None, dict[str, Any] | None]:
        """(planned | stale | invalid | unplanned, the intent's error, the plan's summary)."""
        ok, error, intent_json = intent_record(ws.intent_text(name) or "")
        fabric_path = ws.plan_dir(name) / "fabric.json"
        summary = None
        if fabric_path.exists():
            st = fabric_path.stat()
            planned_json, summary = plan_record(str(fabric_path), st.st_mtime_ns, st.st_size)
        if not ok:
            return ("invalid", error, summary)
        if summary is None:
            return ("unplanned", None, None)
        asked = ws.planned(name, planned_json)
        if asked is None:  # a plan made on the CLI: only its resolved intent to compare with
            asked = planned_json
        return ("planned" if asked == intent_json else "stale", None, summary)

    # -- catalog and schema ------------------------------------------------------------------------
    @app.get("/api/catalog", tags=["catalog"])
    def catalog() -> dict[str, list[dict[str, Any]]]:
        """Every model the intent can name, with its key figures."""
        from tokenfab.catalog import load_catalog

        cat = load_catalog()
        keys = {
            "switches": ("ports", "port_speed_gbps", "asic", "price_usd", "power_w"),
            "nics": ("speed_gbps", "ports", "price_usd", "power_w"),
            "gpus": ("hbm_gbytes", "hbm_tbytes_per_s", "tdp_w"),
            "servers": ("gpus", "gpu_model", "rack_units", "price_usd", "power_w"),
            "optics": ("kind", "speed_gbps", "reach_m", "price_usd", "power_w"),
        }
        out = {}
        for kind, fields in keys.items():
            out[kind] = [
                {"name": name, "vendor": getattr(item, "vendor", ""), **{k: getattr(item, k, None) for k in fields}}
                for name, item in sorted(getattr(cat, kind).items())
            ]
        return out

    @app.get("/api/schema/intent", tags=["catalog"])
    def intent_schema() -> dict[str, Any]:
        """JSON Schema of the intent file."""
        from tokenfab.intent import Intent

        return Intent.model_json_schema()

    @app.post("/api/intent/check", tags=["designs"])
    def check_intent(body: IntentText) -> IntentCheck:
        """Validate intent YAML as you type: every problem with its field and line."""
        try:
            intent = parse_intent_text(body.intent_yaml)
        except InputError as exc:
            return IntentCheck(ok=False, problems=problems(body.intent_yaml, exc))
        c = intent.cluster
        return IntentCheck(ok=True, problems=[], summary={"servers": c.servers, "gpus": c.servers * c.gpus_per_server})

    # -- the stateless planner (kept from the first app) ---------------------------------------
    @app.post("/api/plan", tags=["plan"])
    def plan_route(intent: dict | str = Body(..., description="the intent as JSON, or YAML text")) -> dict[str, Any]:
        """Plan an intent without saving it: design figures, BOM, expectations."""
        from tokenfab.design import design
        from tokenfab.intent import parse_intent
        from tokenfab.report.tables import bom_rows, totals

        data = no_server_files(load_yaml_text(intent, "intent") if isinstance(intent, str) else intent)
        f = design(parse_intent(data, "intent"))
        return {
            "design": f.design.model_dump(mode="json", exclude_none=True),
            "totals": totals(f),
            "bom": bom_rows(f),
            "expectations": f.expectations.model_dump(mode="json", exclude={"leaf_ecmp_links"}),
            "counts": f.counts(),
        }

    @app.post(
        "/api/plan/files/{name}",
        tags=["plan"],
        responses={200: {"content": {t: {} for t in ("application/json", "text/csv", "image/svg+xml", "text/plain")}}},
    )
    def plan_file(name: str, intent: dict | str = Body(..., description="the intent as JSON, or YAML text")) -> Response:
        """One file of `tokenfab plan` (fabric.json, bom.csv, cabling.csv, ip-plan.csv, topology.svg) without saving."""
        from tokenfab.design import design
        from tokenfab.intent import parse_intent
        from tokenfab.report import plan_files

        data = no_server_files(load_yaml_text(intent, "intent") if isinstance(intent, str) else intent)
        files = plan_files(design(parse_intent(data, "intent")))
        if name not in files:
            raise err(404, f"no plan file {excerpt(name, 80)!r}", "name", ", ".join(files))
        return PlainTextResponse(files[name], media_type=MEDIA.get(name[name.rfind(".") :], "text/plain"))

    # -- designs -----------------------------------------------------------------------------------
    @app.get("/api/designs", tags=["designs"])
    def list_designs() -> list[DesignListItem]:
        """The workspace's designs with their key figures."""
        out = []
        for name in ws.designs():
            st, _, s = status_of(name)
            item = DesignListItem(name=name, status=st)
            if s is not None:
                item.gpus = int(s["design"].get("gpus", 0))
                item.switches = s["switches"]
                item.price_usd = round(s["totals"]["price_usd"], 2)
                item.power_w = round(s["totals"]["power_w"], 1)
                item.configured = (ws.plan_dir(name) / "configs").exists()
                v = ws.plan_dir(name) / "validation.json"
                item.validated = json.loads(v.read_text())["ok"] if v.exists() else None
            out.append(item)
        return out

    @app.post("/api/designs", status_code=201, tags=["designs"])
    def create_design(body: NewDesign) -> Design:
        """Save an intent as a new design and plan it."""
        if body.name in ws.designs() and not body.overwrite:
            raise err(409, f"design {body.name!r} exists", "name", "another name, or overwrite: true")
        intent = parse_intent_text(body.intent_yaml)
        ws.save_intent(body.name, body.intent_yaml)
        plan_into(body.name, intent)
        return get_design(body.name)

    @app.get("/api/designs/{name}", tags=["designs"])
    def get_design(name: str) -> Design:
        """A design: its intent, whether its plan is current, its figures, configs, validation and runs."""
        design_or_404(name)
        st, error, summary = status_of(name)
        plan = ws.plan_dir(name)
        val = None
        if (plan / "validation.json").exists():
            v = json.loads((plan / "validation.json").read_text())
            val = {"ok": v["ok"], "violations": len(v["violations"]), "counts": v["counts"], "switches": v["switches"]}
        return Design(
            name=name,
            intent_yaml=ws.intent_text(name) or "",
            status=st,
            error=error,
            summary=summary,
            configured=(plan / "configs").exists(),
            validation=val,
            runs=ws.runs(name),
        )

    @app.put("/api/designs/{name}/intent", tags=["designs"])
    def update_intent(name: str, body: IntentText) -> Design:
        """Save the intent and re-plan. A bad intent is saved as typed and answers 422; the old plan stays,
        marked stale, until the intent plans again."""
        check_name(name)
        ws.save_intent(name, body.intent_yaml)
        intent = parse_intent_text(body.intent_yaml)
        plan_into(name, intent)
        return get_design(name)

    @app.delete("/api/designs/{name}", status_code=204, tags=["designs"])
    def delete_design(name: str) -> Response:
        design_or_404(name)
        ws.delete(name)
        return Response(status_code=204)

    @app.get("/api/designs/{name}/tables/{table}", tags=["designs"])
    def design_table(name: str, table: Literal["bom", "cabling", "ip-plan", "buffers"]) -> TableRows:
        """BOM, cabling, IP plan (and lossless buffers once configured) as rows."""
        design_or_404(name)
        path = ws.plan_dir(name) / ("configs/buffers.csv" if table == "buffers" else f"{table}.csv")
        if not path.exists():
            raise err(404, f"design {name!r} has no {table} table yet", "table")
        return _read_csv(path)

    @app.get("/api/designs/{name}/topology", tags=["designs"])
    def design_topology(
        name: str,
        expand: str = Query("", max_length=4000, description="group ids, comma separated"),
        run: str | None = Query(None, description="a simulate run whose failed links to mark"),
    ) -> dict[str, Any]:
        """Nodes and edges to draw: groups collapsed unless expanded; links failed in the simulate run, or
        held down in a twin booted from this design's plan, marked."""
        from tokenfab.server.topology import view
        from tokenfab.server.twinview import failed_links

        design_or_404(name)
        fabric = fabric_of(name)
        failed: set[str] = set()
        if run:
            res = ws.run_dir(name, run) / "result.json"
            if res.exists():
                failed = {r["link"] for r in json.loads(res.read_text()).get("links") or [] if r.get("failed")}
        twins = failed_links(ws.plan_dir(name), fabric)
        for links in twins.values():
            failed |= links
        out = view(fabric, {e for e in expand.split(",") if e}, failed)
        out["twins"] = sorted(twins)
        return out

    @app.get("/api/designs/{name}/devices/{device}", tags=["designs"])
    def design_device(name: str, device: str) -> dict[str, Any]:
        """One device: figures, ports and links, addresses, BGP sessions, its config_db.json and frr.conf."""
        from tokenfab.server.topology import device_panel

        design_or_404(name)
        f = fabric_of(name)
        if device not in f.index:
            raise err(404, f"no device {device!r} in design {name!r}", "device")
        return device_panel(f, ws.plan_dir(name), device)

    @app.get("/api/designs/{name}/files", tags=["files"])
    def design_files(name: str) -> list[dict[str, Any]]:
        """Every file the stages wrote for this design (paths relative to the design folder)."""
        design_or_404(name)
        base = ws.design_dir(name)
        out = []
        for p in sorted(base.rglob("*")):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts):
                out.append({"path": str(p.relative_to(base)), "size_bytes": p.stat().st_size})
        return out

    @app.get(
        "/api/designs/{name}/files/{path:path}",
        tags=["files"],
        responses={200: {"content": {t: {} for t in sorted(set(MEDIA.values()) | {"application/octet-stream"})}}},
    )
    def design_file(name: str, path: str) -> FileResponse:
        """Download one file of the design folder."""
        design_or_404(name)
        try:
            p = ws.file(ws.design_dir(name), path)
        except FileNotFoundError:
            raise err(404, f"no file {excerpt(path, 200)!r} in design {name!r}", "path") from None
        return FileResponse(p, media_type=MEDIA.get(p.suffix, "application/octet-stream"), filename=p.name)

    @app.get(
        "/api/designs/{name}/archive",
        tags=["files"],
        responses={200: {"content": {"application/zip": {}}}},
    )
    def design_archive(name: str) -> Response:
        """The whole design folder (intent, plan, configs, ZTP bundle, exports, runs) as one zip."""
        design_or_404(name)
        base = ws.design_dir(name)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(base.rglob("*")):
                rel = p.relative_to(base)
                if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                    info = zipfile.ZipInfo(f"{name}/{rel}", date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    z.writestr(info, p.read_bytes(), zipfile.ZIP_DEFLATED)
        return Response(
            buf.getvalue(), media_type="application/zip", headers={"content-disposition": f'attachment; filename="{name}.zip"'}
        )

    # -- stages as jobs ----------------------------------------------------------------------------
    def _active(name: str, kind: str) -> None:
        for j in jobs().list(name):
            if j["kind"] == kind and j["state"] in ("queued", "running"):
                raise err(409, f"a {kind} job for {name!r} is already {j['state']} ({j['id']})", "design")

    @app.post("/api/designs/{name}/configure", status_code=202, tags=["stages"])
    def configure_design(name: str) -> JobStarted:
        """Configure (config_db.json, frr.conf, hosts, ZTP, exports) and validate, as a background job."""
        design_or_404(name)
        fabric_of(name)
        _active(name, "configure")
        return JobStarted(job=Job(**jobs().submit("configure", name, {}, f"configure + validate {name}")))

    @app.get("/api/designs/{name}/validation", tags=["stages"])
    def design_validation(name: str) -> dict[str, Any]:
        """The last validation: counts per check and every violation (device, table, key, field)."""
        design_or_404(name)
        path = ws.plan_dir(name) / "validation.json"
        if not path.exists():
            raise err(404, f"design {name!r} has not been validated yet", "design", "POST .../configure")
        return json.loads(path.read_text())

    @app.post("/api/designs/{name}/simulate", status_code=202, tags=["stages"])
    def simulate_design(name: str, body: SimulateRequest) -> JobStarted:
        """NCCL-style collectives on the design, one curve per routing mode, as a background job."""
        design_or_404(name)
        f = fabric_of(name)
        from tokenfab.names import resolve
        from tokenfab.sim import parse_size

        for ref in body.fail:
            try:
                resolve(f, ref)
            except InputError as exc:
                raise err(422, str(exc), "fail") from None
        lo, hi = parse_size(body.minbytes, "minbytes"), parse_size(body.maxbytes, "maxbytes")
        if not 0 < lo <= hi <= 64 * 2**30:
            raise err(422, f"sizes must satisfy 0 < minbytes <= maxbytes <= 64G (got {lo} and {hi} bytes)", "maxbytes")
        params = body.model_dump()
        run = ws.new_run(name, "simulate", params)
        params["run"] = run
        title = f"simulate {body.collective} on {name} ({', '.join(body.routings)})"
        return JobStarted(job=Job(**jobs().submit("simulate", name, params, title)), run=run)

    @app.post("/api/designs/{name}/factory", status_code=202, tags=["stages"])
    def factory_design(name: str, body: FactoryRequest) -> JobStarted:
        """Run a factory file on this design (its `fabric:` is replaced by the design's plan), as a job."""
        design_or_404(name)
        fabric_of(name)
        data = no_server_files(load_yaml_text(body.factory_yaml, "factory"))
        if not isinstance(data, dict):
            raise err(422, "a factory file is a mapping (fabric, window_h, jobs, ...)", "factory_yaml")
        data["fabric"] = "../../../plan"  # runs/<run>/factory.yaml -> the design's plan folder
        from tokenfab.factory.spec import parse_factory

        parse_factory(data, "factory")  # every problem before the job starts
        import yaml

        params = {"factory_yaml": yaml.safe_dump(data, sort_keys=False)}
        run = ws.new_run(name, "factory", {})
        params["run"] = run
        return JobStarted(job=Job(**jobs().submit("factory", name, params, f"factory run on {name}")), run=run)

    @app.get("/api/designs/{name}/runs/{run}", tags=["stages"])
    def design_run(name: str, run: str) -> dict[str, Any]:
        """A simulate run's curves and link loads, or a factory run's dashboard figures."""
        design_or_404(name)
        d = ws.run_dir(name, run)
        if not (d / "run.json").exists():
            raise err(404, f"no run {run!r} in design {name!r}", "run")
        out: dict[str, Any] = json.loads((d / "run.json").read_text())
        if (d / "result.json").exists():
            out["result"] = json.loads((d / "result.json").read_text())
        if (d / "out" / "summary.json").exists():
            from tokenfab.server.dashboard import factory_dashboard

            out["factory"] = factory_dashboard(d / "out", ws.plan_dir(name))
        return out

    # -- jobs --------------------------------------------------------------------------------------
    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs(design: str | None = None) -> list[Job]:
        return [Job(**j) for j in jobs().list(design)][:200]

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str) -> Job:
        try:
            return Job(**jobs().get(job_id))
        except KeyError:
            raise err(404, f"no job {excerpt(job_id, 60)!r}", "job") from None

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def cancel_job(job_id: str) -> Job:
        try:
            return Job(**jobs().cancel(job_id))
        except KeyError:
            raise err(404, f"no job {excerpt(job_id, 60)!r}", "job") from None

    # -- compare, sweeps, twin ---------------------------------------------------------------------
    @app.get("/api/compare", tags=["compare"])
    def compare(a: str, b: str) -> dict[str, Any]:
        """Two designs side by side: counts, cost, power, busbw and factory KPIs of their latest runs, and the
        device/link diff of `plan --diff`."""
        design_or_404(a)
        design_or_404(b)
        return compare_designs(ws, a, fabric_of(a), b, fabric_of(b))

    @app.get("/api/sweeps", tags=["sweeps"])
    def list_sweeps() -> list[str]:
        return ws.sweeps()

    @app.get("/api/sweeps/{sweep}", tags=["sweeps"])
    def get_sweep(sweep: str) -> TableRows:
        """A sweep's results table (results.csv of `tokenfab sweep -o WORKSPACE/sweeps/NAME`)."""
        check_name(sweep, "sweep")
        path = ws.root / "sweeps" / sweep / "results.csv"
        if not path.exists():
            raise err(404, f"no sweep {sweep!r} (results.csv not found)", "sweep")
        return _read_csv(path)

    @app.get("/api/sweeps/{sweep}/best", tags=["sweeps"])
    def sweep_best(sweep: str) -> list[dict[str, Any]]:
        """The sweep's best designs (its `best/NN-point-P.yaml` intents), by point number."""
        check_name(sweep, "sweep")
        folder = ws.root / "sweeps" / sweep / "best"
        out = []
        for f in sorted(folder.glob("*-point-*.yaml")) if folder.is_dir() else []:
            point = f.stem.rsplit("-point-", 1)[1]
            if point.isdigit():
                out.append({"point": int(point), "file": f.name})
        return out

    @app.post("/api/sweeps/{sweep}/best/{file}/design", status_code=201, tags=["sweeps"])
    def sweep_point_design(sweep: str, file: str) -> Design:
        """Open one of the sweep's best designs as a design of the workspace (planned, ready to configure)."""
        check_name(sweep, "sweep")
        try:
            path = ws.file(ws.root / "sweeps" / sweep / "best", file)
        except FileNotFoundError:
            raise err(404, f"no best design {excerpt(file, 80)!r} in sweep {sweep!r}", "file") from None
        point = path.stem.rsplit("-point-", 1)[-1]
        name = f"{sweep}-p{point}"[:63]
        text = path.read_text()
        if name in ws.designs():
            return get_design(name)
        intent = parse_intent_text(text)
        ws.save_intent(name, text)
        plan_into(name, intent)
        return get_design(name)

    @app.get("/api/twin", tags=["twin"])
    def twin_status() -> list[dict[str, Any]]:
        """Twins running on this machine (read only: starting one needs root on the CLI)."""
        from tokenfab.server.twinview import twins

        return twins()

    # -- the page and its assets -------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return (STATIC / "index.html").read_text()

    return GuardedApp(app, token, max_body_bytes)


DOCS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>tokenfab API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui-dist/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""


class GuardedApp:
    """The FastAPI app behind the Guard middleware, still exposing `.app` for tests and uvicorn."""

    def __init__(self, app: FastAPI, token: str | None, max_body_bytes: int):
        self.app = app
        self._asgi = Guard(app, token, max_body_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send) -> None:
        await self._asgi(scope, receive, send)


def app_from_env() -> GuardedApp:
    """For `uvicorn --factory tokenfab.server.app:app_from_env`: workspace and token from the environment."""
    return create_app(os.environ.get("TOKENFAB_WORKSPACE", "tokenfab-workspace"), os.environ.get("TOKENFAB_TOKEN"))
