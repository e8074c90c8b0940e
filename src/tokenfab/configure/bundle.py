"""Everything `tokenfab configure` writes, as (relative path, bytes) pairs: a pure function of the
Fabric (same fabric, byte-identical files). Layout (documented in outputs.py and README):

    fabric.json                               the plan these files were made from
    configs/<switch>/config_db.json           SONiC CONFIG_DB
    configs/<switch>/frr.conf                 FRR, rendered from that config_db.json
    configs/buffers.csv                       lossless headroom per port, with its source / estimate flag
    hosts/<server>/netplan.yaml, roce.sh      NIC addressing and routes per rail; host RoCE settings
    ztp/<switch>/ztp.json, ztp/dhcpd.conf     ZTP bundle (+ ztp/<switch>/install-frr.sh with p31)
    export/containerlab.clab.yml              containerlab topology
    export/lab/<switch>/config_db.json, frr.conf   the switch files mapped onto docker-sonic-vs's ports
                                              (when every switch fits the image's port count)
    export/netbox-{devices,interfaces,cables}.csv
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator

from tokenfab.configure import export, hosts, lab, ztp
from tokenfab.configure.config_db import Context, headroom_rows, switch_config
from tokenfab.configure.frr import render_frr
from tokenfab.design.model import Fabric

SUBDIRS = ("configs", "hosts", "ztp", "export")


def dump_config(cfg: dict) -> bytes:
    """config_db.json as SONiC writes it (`config save`): 4-space indent, keys sorted."""
    return (json.dumps(cfg, indent=4, sort_keys=True) + "\n").encode()


def generate(
    fabric: Fabric, ztp_url: str | None = None, progress: Callable[[str], None] | None = None
) -> Iterator[tuple[str, bytes]]:
    ctx = Context(fabric)
    tick = progress or (lambda _: None)
    yield "fabric.json", fabric.dumps().encode()
    url = ztp.base_url(ctx, ztp_url)
    the_lab = lab.plan_lab(ctx)
    configs: dict[str, dict] = {}
    buffer_rows: list[dict] = []
    for row in ctx.switch_rows:
        name = ctx.name(row)
        cfg = switch_config(ctx, row)
        configs[name] = {"PORT": cfg["PORT"]}
        yield f"configs/{name}/config_db.json", dump_config(cfg)
        yield f"configs/{name}/frr.conf", render_frr(cfg).encode()
        if the_lab.mapped:
            lab_cfg = lab.lab_config(ctx, the_lab, row, cfg)
            where = f"export/{export.LAB_DIR}/{name}"
            yield f"{where}/config_db.json", dump_config(lab_cfg)
            yield f"{where}/frr.conf", render_frr(lab_cfg, f"{where}/config_db.json").encode()
        yield f"ztp/{name}/ztp.json", ztp.ztp_json(ctx, row, url).encode()
        if ctx.server_links == "p31":
            yield f"ztp/{name}/install-frr.sh", ztp.install_frr_script(ctx, row, url).encode()
        buffer_rows += headroom_rows(ctx, row)
        tick(name)
    if buffer_rows:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(buffer_rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(buffer_rows)
        yield "configs/buffers.csv", buf.getvalue().encode()
    for row in ctx.server_rows:
        name = ctx.name(row)
        yield f"hosts/{name}/netplan.yaml", hosts.netplan(ctx, row).encode()
        yield f"hosts/{name}/roce.sh", hosts.roce_script(ctx, row, ctx.profile).encode()
        tick(name)
    yield "ztp/dhcpd.conf", ztp.dhcpd_conf(ctx, url).encode()
    yield "export/containerlab.clab.yml", export.containerlab(ctx, the_lab).encode()
    yield "export/netbox-devices.csv", export.netbox_devices(ctx).encode()
    yield "export/netbox-interfaces.csv", export.netbox_interfaces(ctx, configs).encode()
    yield "export/netbox-cables.csv", export.netbox_cables(ctx).encode()


def count(fabric: Fabric) -> int:
    """Progress steps of generate(): one per device."""
    return len(fabric.devices)


def write(
    fabric: Fabric,
    out,
    *,
    force: bool = False,
    add_to_plan: bool = False,
    ztp_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Write the bundle into `out` atomically (nothing half-written on failure).

    add_to_plan: `out` is the plan folder the fabric came from; its plan files stay and earlier
    configure outputs are replaced. Otherwise `out` must not exist unless `force`."""
    import shutil
    from pathlib import Path

    from tokenfab.outputs import output_dir

    written = []
    with output_dir(out, force=force, keep=add_to_plan) as tmp:
        for sub in SUBDIRS:
            shutil.rmtree(Path(tmp) / sub, ignore_errors=True)
        for rel, data in generate(fabric, ztp_url, progress):
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if rel.endswith(".sh"):
                path.chmod(0o755)
            written.append(rel)
    return written
