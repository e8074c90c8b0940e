"""The web API's request and response models: what /openapi.json documents and schemathesis checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    status: int
    field: str | None = Field(None, description="the input field at fault, as a dotted path, when known")
    message: str
    accepted: str | None = Field(None, description="what would be accepted, when it can be said briefly")


class ErrorBody(BaseModel):
    error: ErrorDetail


class IntentText(BaseModel):
    intent_yaml: str = Field(..., description="the intent as YAML text (see GET /api/schema/intent)")


class NewDesign(IntentText):
    name: str = Field(..., description="design name: lower-case letters, digits and '-'", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    overwrite: bool = Field(False, description="replace a design of that name")


class IntentProblem(BaseModel):
    field: str | None
    message: str
    line: int | None = Field(None, description="1-based line of the field in the YAML text, when found")


class IntentCheck(BaseModel):
    ok: bool
    problems: list[IntentProblem]
    summary: dict[str, Any] | None = Field(None, description="GPUs, servers and switch counts when the intent is valid")


class DesignListItem(BaseModel):
    name: str
    status: Literal["planned", "stale", "invalid", "unplanned"]
    gpus: int | None = None
    switches: int | None = None
    price_usd: float | None = None
    power_w: float | None = None
    configured: bool = False
    validated: bool | None = None


class Design(BaseModel):
    name: str
    intent_yaml: str
    status: Literal["planned", "stale", "invalid", "unplanned"]
    error: str | None = Field(None, description="why the saved intent does not plan (status invalid)")
    summary: dict[str, Any] | None = Field(None, description="design figures, counts, cost and power of the plan")
    configured: bool = False
    validation: dict[str, Any] | None = Field(None, description="counts of the last validate run")
    runs: list[dict[str, Any]] = Field(default_factory=list)


class TableRows(BaseModel):
    columns: list[str]
    rows: list[list[str]]


class Job(BaseModel):
    id: str
    kind: str
    design: str | None
    title: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    params: dict[str, Any]
    progress: dict[str, Any]
    created: float
    started: float | None
    finished: float | None
    error: str | None
    result: dict[str, Any] | None


class SimulateRequest(BaseModel):
    collective: Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "reduce", "send_recv"] = (
        "all_reduce"
    )
    minbytes: str = Field("1M", description="smallest message (nccl-tests syntax: 8, 64K, 1M, 1G)", max_length=16)
    maxbytes: str = Field("1G", description="largest message", max_length=16)
    stepfactor: int = Field(4, ge=2, le=16)
    routings: list[Literal["ecmp", "adaptive", "spray"]] = Field(["ecmp"], min_length=1, max_length=3)
    qps: int = Field(1, ge=1, le=16, description="queue pairs per connection")
    gpus: int | None = Field(None, ge=2, le=32_768, description="the first N GPUs (default: all)")
    fail: list[str] = Field(
        default_factory=list, max_length=64, description="links or switches down: spine-1, leaf-r1-1--spine-1"
    )
    loss: float = Field(0.0, ge=0.0, le=0.5, allow_inf_nan=False, description="packet loss probability per link")
    recovery: Literal["go-back-n", "selective-repeat"] = "go-back-n"
    efficiency: float = Field(0.95, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=1_000_000)


class FactoryRequest(BaseModel):
    factory_yaml: str = Field(..., description="a factory file (see examples/factory-demo.yaml); its fabric is this design")


class JobStarted(BaseModel):
    job: Job
    run: str | None = None
