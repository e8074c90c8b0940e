"""The ECMP hash (catalog data: data/ecmp-hash.yaml): one list of header fields, read by the
configure stage (SWITCH_HASH in config_db.json) and by the simulator (which fields it hashes)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field

from tokenfab.strict import StrictModel

# The fields sonic-hash.yang accepts that a 5-tuple hash may use.
HashField = Literal["SRC_IP", "DST_IP", "IP_PROTOCOL", "L4_SRC_PORT", "L4_DST_PORT"]


class EcmpHash(StrictModel):
    ecmp_hash: tuple[HashField, ...] = Field(min_length=1, description="fields the switches' ECMP hash reads")
    lag_hash: tuple[HashField, ...] = Field(min_length=1, description="fields the switches' LAG hash reads")
    roce_udp_dst_port: int = Field(ge=1, le=65535, description="RoCEv2's UDP destination port")


@cache
def ecmp_hash() -> EcmpHash:
    text = resources.files("tokenfab.catalog").joinpath("data", "ecmp-hash.yaml").read_text()
    return EcmpHash.model_validate(yaml.safe_load(text))
