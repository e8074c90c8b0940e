"""RoCEv2 QoS profiles (catalog data: data/roce-profiles.yaml) resolved against the intent's overrides.

A profile says how every hop classifies RoCE (DSCP -> traffic class -> priority group / queue),
which priorities are lossless (PFC), how queues are scheduled and where ECN marking starts. The
same resolved profile drives the switches' config_db.json and the hosts' roce.sh, so both ends
agree by construction; `validate` checks that they still agree in the files.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, model_validator

from tokenfab.errors import InputError
from tokenfab.strict import StrictModel


class Scheduler(StrictModel):
    type: Literal["DWRR", "WRR", "STRICT"]
    weight: int | None = Field(None, ge=1, le=100)


class Wred(StrictModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9][-a-zA-Z0-9_]{0,31}$")
    ecn: Literal[
        "ecn_none", "ecn_green", "ecn_yellow", "ecn_red", "ecn_green_yellow", "ecn_green_red", "ecn_yellow_red", "ecn_all"
    ]
    min_bytes: int = Field(gt=0)
    max_bytes: int = Field(gt=0)
    mark_probability_percent: int = Field(ge=0, le=100)


class PfcWatchdog(StrictModel):
    action: Literal["drop", "forward", "alert"]
    detection_time_ms: int = Field(ge=100, le=5000)
    restoration_time_ms: int = Field(ge=100, le=60000)
    poll_interval_ms: int = Field(ge=100, le=1000)


class Profile(StrictModel):
    name: str
    description: str
    source: str
    map_name: str = Field(pattern=r"^[a-zA-Z0-9][-a-zA-Z0-9_]{0,31}$")
    dscp_to_tc: dict[int | Literal["default"], int]
    tc_to_pg: dict[int | Literal["default"], int]
    tc_to_queue: dict[int, int]
    pfc_to_queue: dict[int, int]
    lossless_priorities: list[int]
    roce_dscp: int = Field(ge=0, le=63)
    cnp_dscp: int = Field(ge=0, le=63)
    schedulers: dict[str, Scheduler]
    queues: dict[int, str]
    wred: Wred
    pfcwd: PfcWatchdog

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if not self.lossless_priorities or any(not 0 <= p <= 7 for p in self.lossless_priorities):
            raise ValueError("lossless_priorities must be 1..8 priorities in 0..7")
        if self.tc_of(self.roce_dscp) not in self.lossless_priorities:
            raise ValueError(f"roce_dscp {self.roce_dscp} maps to TC {self.tc_of(self.roce_dscp)}, not a lossless priority")
        if self.wred.min_bytes >= self.wred.max_bytes:
            raise ValueError("wred.min_bytes must be below wred.max_bytes")
        for q, s in self.queues.items():
            if s not in self.schedulers:
                raise ValueError(f"queue {q} uses unknown scheduler {s!r}")
        return self

    # -- derived tables (complete, so every hop and host can be compared entry by entry) ----
    def tc_of(self, dscp: int) -> int:
        return self.dscp_to_tc.get(dscp, self.dscp_to_tc.get("default", 0))

    def dscp_map(self) -> dict[int, int]:
        return {d: self.tc_of(d) for d in range(64)}

    def pg_map(self) -> dict[int, int]:
        return {tc: self.tc_to_pg.get(tc, self.tc_to_pg.get("default", 0)) for tc in range(8)}

    @property
    def pfc_enable(self) -> str:
        return ",".join(str(p) for p in sorted(self.lossless_priorities))

    @property
    def roce_priority(self) -> int:
        return self.tc_of(self.roce_dscp)

    @property
    def cnp_priority(self) -> int:
        return self.tc_of(self.cnp_dscp)

    def host_dscp_to_priority(self) -> dict[int, int]:
        """What a host NIC must map: RoCE data and CNP DSCPs to the switch's traffic classes."""
        return {self.roce_dscp: self.roce_priority, self.cnp_dscp: self.cnp_priority}


@cache
def _raw() -> dict:
    text = resources.files("tokenfab.catalog").joinpath("data", "roce-profiles.yaml").read_text()
    return yaml.safe_load(text)["profiles"]


def profile_names() -> list[str]:
    return sorted(_raw())


def resolve(spec) -> Profile:
    """The intent's `roce` section (tokenfab.intent.Roce) -> a Profile with overrides applied."""
    raw = _raw()
    if spec.profile not in raw:
        raise InputError(f"unknown RoCE profile {spec.profile!r}; known: {', '.join(sorted(raw))}", "roce.profile")
    data = dict(raw[spec.profile], name=spec.profile)
    wred = dict(data["wred"])
    for key, field in (
        ("min_bytes", "ecn_min_bytes"),
        ("max_bytes", "ecn_max_bytes"),
        ("mark_probability_percent", "ecn_mark_probability_percent"),
    ):
        if getattr(spec, field) is not None:
            wred[key] = getattr(spec, field)
    if wred["min_bytes"] >= wred["max_bytes"]:
        raise InputError(
            f"ECN min {wred['min_bytes']} B must be below max {wred['max_bytes']} B "
            f"(profile {spec.profile} with the intent's overrides)",
            "roce",
        )
    data["wred"] = wred
    return Profile.model_validate(data)
