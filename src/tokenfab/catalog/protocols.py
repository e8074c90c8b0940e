"""Protocol efficiencies per interconnect (NIC, NVLink, NVLink SHARP), as data with sources.

The share of a link's line rate NCCL delivers as payload differs per interconnect; the figures
live in `data/protocols.yaml`, each with the measurement it comes from.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import Field

from tokenfab.strict import StrictModel


class Protocol(StrictModel):
    efficiency: float = Field(gt=0, le=1, description="payload share of the line rate NCCL reaches on this interconnect")
    source: str = Field(description="the measurement or document the figure comes from")


class Protocols(StrictModel):
    nic: Protocol = Field(description="RoCE/InfiniBand NIC ports (scale-out)")
    nvlink: Protocol = Field(description="NVLink point-to-point transfers (rings, trees, PXN)")
    nvls: Protocol = Field(description="NVLink SHARP all-reduce (reduction in the NVSwitch)")


@cache
def load_protocols() -> Protocols:
    text = resources.files("tokenfab.catalog").joinpath("data", "protocols.yaml").read_text()
    return Protocols.model_validate(yaml.safe_load(text)["protocols"])
