"""The containerlab lab's switch files: each switch's config_db.json mapped onto the port map of the
docker-sonic-vs image, so the lab's links are the switches' SONiC ports and BGP comes up over them.

What the image does (sonic-net/sonic-buildimage at the commit named in data/sonic-vs.yaml):
- platform/vs/docker-sonic-vs/Dockerfile.j2 fixes PLATFORM=x86_64-kvm_x86_64-r0, HWSKU=Force10-S6000;
  that HWSKU's lanemap.ini ties container interface ethN to the lanes of the Nth row of its
  port_config.ini (src/sonic-device-data/src/generate_vs_hwsku.py), and start.sh keeps only the rows
  whose ethN exists. The virtual SAI creates a port per PORT row and binds it to the ethN with those
  lanes, so a PORT row must carry exactly the lanes of the ethN its link uses.
- start.sh copies /var/sonic/config_db.json to /etc/sonic/ and loads it.
- FRR: the image's supervisord.conf is rendered when the image is built (no CONFIG_DB then), so it
  always runs bgpcfgd (never frrcfgd, never `vtysh -b`), and it has no docker_init.sh: nothing reads
  DEVICE_METADATA.docker_routing_config_mode (separated, split, split-unified and unified all behave
  alike) and nothing renders bgpd.main.conf.j2. bgpcfgd adds the BGP_NEIGHBOR sessions with their
  peer group and policies, but not the router-id, multipath-relax or the `network` statements
  (Loopback0, VLAN prefixes), so without a file nothing is advertised. The Dockerfile removes
  /etc/frr/frr.conf, and bgpd, started without -f, reads /etc/frr/bgpd.conf (the image's own BGP
  tests copy their configuration there: platform/vs/tests/bgp/test_no_export.py). So each switch
  mounts its lab frr.conf, rendered from its lab config_db.json, at /etc/frr/bgpd.conf; bgpd logs
  the few zebra-only lines (ip forwarding, interface link-detect, nht) as unknown and skips them,
  and bgpcfgd's later pushes repeat what the file already says.

A switch with more cabled ports than the image has cannot be mapped; then no switch is (a lab in
which some switches have the planned ports and others the image's has no working links either).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from pydantic import Field, PositiveInt

from tokenfab.configure.config_db import SONIC_TYPE, Context, _port_sort_key
from tokenfab.strict import StrictModel

# the planned PORT fields a lab port keeps; lanes, alias, index and speed are the image's
KEPT_PORT_FIELDS = ("mtu", "fec", "admin_status", "description")
# tables keyed by a port (`Ethernet0`, `Ethernet0|3-4`, `Vlan101|Ethernet0`): every key part that is
# a planned port is renamed. CABLE_LENGTH names ports one level down (AZURE: {port: length}).
PORT_KEYED = ("INTERFACE", "VLAN_MEMBER", "DEVICE_NEIGHBOR", "PORT_QOS_MAP", "QUEUE", "BUFFER_PG", "BUFFER_QUEUE", "PFC_WD")
# what the lab does not have: breakouts (the image's ports are fixed)
DROPPED = ("BREAKOUT_CFG",)


class VsPort(StrictModel):
    eth: PositiveInt = Field(description="N of the container interface ethN its lanes are tied to (lanemap.ini)")
    name: str = Field(description="SONiC port name (port_config.ini 'name')")
    lanes: str = Field(description="lanes, comma-separated (port_config.ini 'lanes')")
    alias: str = Field(description="port_config.ini 'alias'")
    index: int = Field(ge=0, description="port_config.ini 'index'")
    speed_gbps: PositiveInt = Field(description="port_config.ini 'speed' (Mb/s there), Gb/s")


class SonicVsImage(StrictModel):
    image: str = Field(description="the container image the containerlab file names")
    platform: str = Field(description="DEVICE_METADATA.platform of the image")
    hwsku: str = Field(description="DEVICE_METADATA.hwsku of the image")
    source: str = Field(description="upstream repository, commit and files the port map was read from")
    ports: list[VsPort] = Field(min_length=1, description="the image's ports in port_config.ini order (eth1 first)")


@cache
def sonic_vs() -> SonicVsImage:
    text = resources.files("tokenfab.configure").joinpath("data", "sonic-vs.yaml").read_text()
    return SonicVsImage.model_validate(yaml.safe_load(text))


@dataclass(frozen=True)
class Lab:
    """How the lab names the plan's ports: a device's Nth cabled port (in port order) is its ethN in
    the lab, and on a switch the image's Nth port. `refused` says why no switch is mapped ("" if all are)."""

    eth: dict[tuple[int, str], int]  # (device row, planned port) -> N of containerlab's ethN
    refused: str  # "" when every switch is mapped

    @property
    def mapped(self) -> bool:
        return not self.refused

    def lab_port(self, ctx: Context, row: int, port: str) -> str:
        """The name of a device's planned port in the lab: the image's port for a switch, ethN for a server."""
        n = self.eth[(row, port)]
        return f"eth{n}" if ctx.col["role"][row] == "server" else sonic_vs().ports[n - 1].name


def eth_numbers(ctx: Context) -> dict[tuple[int, str], int]:
    """(device row, port) -> N of containerlab's ethN: a device's Nth cabled port in port order."""
    out = {}
    for row in range(len(ctx.col["name"])):
        for n, e in enumerate(sorted(ctx.ends(row), key=lambda e: _port_sort_key(e.port)), start=1):
            out[(row, e.port)] = n
    return out


def plan_lab(ctx: Context) -> Lab:
    return Lab(eth_numbers(ctx), refusal(ctx))


def refusal(ctx: Context) -> str:
    """Why the switches cannot be mapped onto the image's ports ("" when they can), with the numbers."""
    have = len(sonic_vs().ports)
    cabled = {row: len(ctx.ends(row)) for row in ctx.switch_rows}
    over = [row for row, n in cabled.items() if n > have]
    if not over:
        return ""
    worst = max(over, key=lambda row: (cabled[row], -row))
    others = f" ({len(over)} of {len(cabled)} switches have more than {have})" if len(over) > 1 else ""
    return f"switch {ctx.name(worst)} has {cabled[worst]} cabled ports; the sonic-vs image has {have}{others}"


def lab_config(ctx: Context, lab: Lab, row: int, cfg: dict) -> dict:
    """The lab's config_db.json of one switch: `cfg` (its planned config) with its cabled ports, in
    port order, renamed onto the image's ports (ethN -> the image's Nth port), PORT rows taking the
    image's lanes/alias/index/speed, every table keyed by or naming a port renamed, breakouts and
    uncabled ports dropped, and DEVICE_METADATA naming the image's platform and HWSKU."""
    image = sonic_vs()
    ends = sorted(ctx.ends(row), key=lambda e: _port_sort_key(e.port))
    rename = {e.port: lab.lab_port(ctx, row, e.port) for e in ends}
    out: dict[str, dict] = {}
    for table, rows in cfg.items():
        if table in DROPPED:
            continue
        if table == "PORT":
            out[table] = {}
            for e in ends:
                vs = image.ports[lab.eth[(row, e.port)] - 1]
                planned = rows[e.port]
                entry = {"alias": vs.alias, "index": str(vs.index), "lanes": vs.lanes, "speed": str(vs.speed_gbps * 1000)}
                entry.update({k: planned[k] for k in KEPT_PORT_FIELDS if k in planned})
                out[table][vs.name] = entry
        elif table in PORT_KEYED:
            out[table] = {"|".join(rename.get(part, part) for part in key.split("|")): dict(v) for key, v in rows.items()}
        elif table == "CABLE_LENGTH":
            out[table] = {k: {rename.get(p, p): length for p, length in v.items()} for k, v in rows.items()}
        else:
            out[table] = {k: dict(v) for k, v in rows.items()}
    by_port = {e.port: e for e in ends}
    for port, n in cfg.get("DEVICE_NEIGHBOR", {}).items():
        e = by_port[port]
        out["DEVICE_NEIGHBOR"][rename[port]] = n | {
            "local_port": rename[port],
            "port": lab.lab_port(ctx, e.peer, e.peer_port),
        }
    # the neighbouring switches run the image too
    for m in out.get("DEVICE_NEIGHBOR_METADATA", {}).values():
        if m.get("type") != SONIC_TYPE["server"]:
            m["hwsku"] = image.hwsku
    out["DEVICE_METADATA"]["localhost"].update(hwsku=image.hwsku, platform=image.platform)
    return out
