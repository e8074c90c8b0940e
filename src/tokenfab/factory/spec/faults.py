"""What goes wrong: planned faults and impairments, failures at a published rate, and the
checkpoints that bound what a failure costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from tokenfab.factory.spec.common import Problems
from tokenfab.strict import StrictModel

if TYPE_CHECKING:
    from tokenfab.factory.spec.factory import FactorySpec


class Fault(StrictModel):
    """Something going wrong from `at_h` until `up_h` (the end of the window if omitted). One of:

    down: a device or link (names as on the command line: `spine-1`, `leaf-r1-1:Ethernet256`,
        `leaf-r1-1--spine-1`); traffic reroutes, GPUs behind a dead NIC link are unreachable.
    impairment of a network (`network`: backend (default), frontend or storage): packet `loss`
        probability per link, `jitter_us` (mean extra delay per hop), `latency_us`, `degrade`
        (capacity kept); on the backend optionally only on the links of `where` (a device or link).
    storage: a tier slowed to `slowdown` of its read and write bandwidth.
    """

    at_h: float = Field(ge=0, description="Start, hours into the window.")
    up_h: float | None = Field(None, description="End (default: the end of the window).")
    down: str | None = Field(
        None, description="A device or link taken down (spine-1, leaf-r1-1:Ethernet256, leaf-r1-1--spine-1)."
    )
    network: Literal["backend", "frontend", "storage"] = Field("backend", description="The network impaired.")
    loss: float = Field(0.0, ge=0, lt=0.5, description="Packet loss probability per link.")
    jitter_us: float = Field(0.0, ge=0, description="Mean extra delay per hop, microseconds.")
    latency_us: float = Field(0.0, ge=0, description="Added latency, microseconds.")
    degrade: float = Field(1.0, gt=0, le=1, description="Share of link capacity kept.")
    where: str | None = Field(None, description="Impair only the links of this device or link (backend only).")
    storage: str | None = Field(None, description="A storage tier slowed down.")
    slowdown: float = Field(1.0, gt=0, le=1, description="Share of the tier's bandwidth kept.")

    @model_validator(mode="after")
    def _order(self) -> Fault:
        if self.up_h is not None and self.up_h <= self.at_h:
            raise ValueError(f"up_h ({self.up_h}) must be after at_h ({self.at_h})")
        kinds = [
            k
            for k, on in (("down", self.down is not None), ("impairment", self.impairs), ("storage", self.storage is not None))
            if on
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a fault is one of: down (a device or link), an impairment (loss, jitter_us, latency_us, "
                "degrade) or a storage slowdown (storage + slowdown)"
            )
        if self.storage is not None and self.slowdown >= 1.0:
            raise ValueError("a storage fault needs slowdown < 1 (the share of bandwidth kept)")
        if self.where is not None and self.network != "backend":
            raise ValueError("where (a device or link) applies to the backend network only")
        return self

    @property
    def impairs(self) -> bool:
        return bool(self.loss or self.jitter_us or self.latency_us or self.degrade < 1.0)

    @property
    def kind(self) -> str:
        return "down" if self.down is not None else ("storage" if self.storage is not None else "impairment")


class Checkpointing(StrictModel):
    """Training jobs' checkpoints (synchronous writes to the checkpoint tier)."""

    interval_min: float | Literal["auto", "off"] = Field(
        "auto", description="Minutes of work between checkpoints; auto: Young/Daly sqrt(2 x write time x MTBF of the job)."
    )
    bytes_per_param: float = Field(
        14.0, gt=0, description="Checkpoint bytes per parameter (BF16 weights + FP32 master weights + Adam m and v)."
    )
    keep: PositiveInt = Field(2, description="Checkpoints kept per job (storage capacity).")


class Failures(StrictModel):
    """Unexpected interruptions at a published rate: Llama 3 saw 419 in 54 days on 16,384 GPUs
    (arXiv 2407.21783), one per ~50,700 GPU-hours; 8.4% were switches and cables."""

    enabled: bool = Field(True, description="Draw failures at all.")
    interruptions: float = Field(419, ge=0, description="Interruptions observed ...")
    days: float = Field(54, gt=0, description="... over this many days ...")
    gpus: PositiveInt = Field(16384, description="... on this many GPUs.")
    scale: float = Field(1.0, ge=0, description="Multiply the rate (what-if).")
    network_share: float = Field(0.084, ge=0, le=1, description="Share of them that are a fabric link going down.")
    restart_min: float = Field(10.0, ge=0, description="Detect, reschedule and initialise, before the restore.")
    repair_h: float = Field(4.0, ge=0, description="A failed server is out of service this long.")
    link_repair_h: float = Field(2.0, ge=0, description="A failed link is down this long.")

    @property
    def per_gpu_s(self) -> float:
        return self.interruptions * self.scale / (self.days * 86400.0 * self.gpus)


def check(spec: FactorySpec, p: Problems, tiers: set[str]) -> None:
    for i, ft in enumerate(spec.faults):
        if ft.storage is not None:
            if not tiers:
                p.add(f"faults.{i}.storage", "a storage fault needs a storage section")
            else:
                p.one_of(ft.storage, tiers, f"faults.{i}.storage", "storage tier")
    if spec.checkpoint is not None and spec.checkpoint.interval_min != "off" and not tiers:
        p.add("checkpoint", "checkpoints are written to a storage tier; add a storage section")
