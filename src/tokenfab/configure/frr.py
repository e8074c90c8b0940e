"""FRR configuration rendered FROM a switch's config_db.json (so it is provably derived from the file
the switch loads), with the semantics of SONiC's bgpcfgd templates.

What bgpcfgd advertises: the Loopback0 /32 and the VLAN_INTERFACE prefixes (`network` statements);
plain INTERFACE /31s are not advertised. So when NICs sit on /31s (server_links: p31), the
server-facing /31s (ports whose DEVICE_NEIGHBOR is a Server) are added here and the switch runs
docker_routing_config_mode split-unified, loading this file instead of bgpcfgd's rendering.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

# Debian 12's FRR 8.4 is built with --enable-multipath=256 and rejects more.
MAXIMUM_PATHS = 256
# constants.yml bgp.allow_list.drop_community (SONiC's default allow-list rules use it).
ALLOW_LIST_DROP_COMMUNITY = "5060:12345"


@cache
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tokenfab.configure", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("frr.conf.j2")


def _prefixes(table: dict, prefix: str) -> list[tuple[str, str]]:
    """(name, ip/len) for the `name|ip/len` keys of an interface table."""
    out = []
    for key in table:
        name, sep, ip = key.partition("|")
        if sep and (not prefix or name.startswith(prefix)):
            out.append((name, ip))
    return out


def _net(ip_with_len: str) -> str:
    return str(ipaddress.IPv4Interface(ip_with_len).network)


def render_frr(config_db: dict, source: str = "") -> str:
    """FRR's configuration from `config_db` (read from `source`, named in the header; default
    configs/<hostname>/config_db.json)."""
    meta = config_db["DEVICE_METADATA"]["localhost"]
    loopbacks = [
        ip
        for name, ip in _prefixes(config_db.get("LOOPBACK_INTERFACE", {}), "Loopback0")
        if ipaddress.ip_interface(ip).version == 4
    ]
    loopback = str(ipaddress.IPv4Interface(loopbacks[0]).ip) if loopbacks else ""
    router_id = meta.get("bgp_router_id") or loopback
    vlan = sorted(
        {_net(ip) for _, ip in _prefixes(config_db.get("VLAN_INTERFACE", {}), "")}, key=lambda p: ipaddress.IPv4Network(p)
    )
    intf = config_db.get("INTERFACE", {})
    neigh = config_db.get("DEVICE_NEIGHBOR", {})
    kinds = {name: m.get("type", "") for name, m in config_db.get("DEVICE_NEIGHBOR_METADATA", {}).items()}
    advertise_nics = meta.get("docker_routing_config_mode") in ("split", "split-unified")
    nic = []
    if advertise_nics:
        nic = sorted(
            {_net(ip) for port, ip in _prefixes(intf, "") if kinds.get(neigh.get(port, {}).get("name", "")) == "Server"},
            key=lambda p: ipaddress.IPv4Network(p),
        )
    neighbors = []
    for ip, n in sorted(config_db.get("BGP_NEIGHBOR", {}).items(), key=lambda kv: ipaddress.ip_address(kv[0].split("|")[-1])):
        ka, hold = int(n.get("keepalive", 60)), int(n.get("holdtime", 180))
        down = n.get("admin_status") == "down" or ("admin_status" not in n and meta.get("default_bgp_status") == "down")
        neighbors.append(
            {
                "ip": ip.split("|")[-1],
                "asn": n["asn"],
                "name": n.get("name", ip),
                "timers": (ka, hold) != (60, 180),
                "keepalive": ka,
                "holdtime": hold,
                "shutdown": down,
            }
        )
    ports = sorted({k.split("|")[0] for k in intf}, key=lambda p: (len(p), p))
    return _template().render(
        hostname=meta["hostname"],
        source=source or f"configs/{meta['hostname']}/config_db.json",
        asn=meta["bgp_asn"],
        router_id=router_id,
        loopback=loopback,
        vlan_prefixes=vlan,
        nic_prefixes=nic,
        neighbors=neighbors,
        interfaces=ports,
        maximum_paths=MAXIMUM_PATHS,
        drop_community=ALLOW_LIST_DROP_COMMUNITY,
        advertise_nics=advertise_nics,
    )


def advertised(frr_text: str) -> list[str]:
    """The prefixes a rendered frr.conf originates (its `network` statements)."""
    return [line.split()[1] for line in frr_text.splitlines() if line.strip().startswith("network ")]


def vtysh() -> str | None:
    return shutil.which("vtysh") or (Path("/usr/bin/vtysh").exists() and "/usr/bin/vtysh") or None


def check_with_frr(frr_text: str) -> list[str]:
    """Parse the configuration with the real FRR (`vtysh --dryrun`); returns its complaints.

    vtysh exits 2 and prints `line N: % Unknown command` for lines FRR rejects (the daemons' own
    `-C` dry run exits 0 even then; see notes/frr-netns.md)."""
    exe = vtysh()
    if exe is None:
        raise FileNotFoundError("vtysh (Debian package frr) is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as fh:
        fh.write(frr_text)
        fh.flush()
        proc = subprocess.run([exe, "--dryrun", "-f", fh.name], capture_output=True, text=True, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode == 0:
        return []
    return [line for line in out.splitlines() if line.strip()] or [f"vtysh exited {proc.returncode}"]


# Between two files of a batch: `hostname` exists only at the config node, so vtysh walks up to it
# from whatever node the previous file ended in; each file then starts where it would alone.
_BOUNDARY = "hostname tokenfab-batch-boundary"
# After the last file: a line vtysh must reject, proving it read the batch to the end (extra `exit`s
# can make it stop reading early, and silence would then look like a clean batch).
_SENTINEL = "tokenfab-batch-end"
_LINE = re.compile(r"^line (\d+): ")


def check_many_with_frr(texts: dict[str, str]) -> dict[str, list[str]]:
    """FRR's complaints about several configurations with one `vtysh --dryrun` (its start-up is
    what a single check costs). A batch that is clean, with every boundary accepted and the end
    reached, is clean file by file; any file it finds fault with (or any doubt) is checked again on
    its own, so every complaint reads exactly as `check_with_frr` gives it."""
    exe = vtysh()
    if exe is None:
        raise FileNotFoundError("vtysh (Debian package frr) is not installed")
    out: dict[str, list[str]] = {name: [] for name in texts}
    if len(texts) <= 1:
        return {name: check_with_frr(text) for name, text in texts.items()}
    lines: list[str] = []
    starts: list[tuple[int, str]] = []  # (first line number, file) in the batch
    boundaries: set[int] = set()
    for name, text in texts.items():
        if lines:
            lines.append(_BOUNDARY)
            boundaries.add(len(lines))
        starts.append((len(lines) + 1, name))
        lines += text.splitlines()
    lines.append(_SENTINEL)
    end = len(lines)
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        proc = subprocess.run([exe, "--dryrun", "-f", fh.name], capture_output=True, text=True, timeout=120)
    faulty: set[str] = set()
    reached_end = doubt = False
    for line in (proc.stdout + proc.stderr).splitlines():
        m = _LINE.match(line)
        if not m:
            doubt = doubt or bool(line.strip())
            continue
        number = int(m.group(1))
        if number == end:
            reached_end = True
        elif number in boundaries:
            doubt = True
        else:
            faulty.add(next(name for first, name in reversed(starts) if first <= number))
    again = list(texts) if doubt or not reached_end else sorted(faulty, key=list(texts).index)
    for name in again:
        out[name] = check_with_frr(texts[name])
    return out
