"""The assumptions a run states with its results (assumptions.txt, the report's last section)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine


def assumptions(e: Engine) -> list[str]:
    cfg = e.spec.network
    out = list(e.spec.notes)  # about the file itself (old key names), first so they are seen
    out.append(f"communication model: {e.comm.name}")
    if hasattr(e.comm, "config_lines"):
        out += e.comm.config_lines()
    if e.comm.name == "analytical":
        a = cfg.analytical
        out.append(
            f"analytical: NVLink {e.cluster.gpu.nvlink_gbytes_per_s_per_direction:.0f} GB/s per "
            f"direction x {a.nvlink_efficiency}, NIC x {a.nic_efficiency}, launch {a.launch_nvlink_s * 1e6:.0f}/"
            f"{a.launch_network_s * 1e6:.0f} us (NVLink/network), hop {a.nvlink_hop_s * 1e6:.1f}/"
            f"{a.nic_hop_s * 1e6:.1f} us + {e.cluster.switch_latency_s * 1e9:.0f} ns per switch; "
            f"ideal ECMP spreading over leaf uplinks"
        )
    p = e.spec.power
    out.append(
        f"power: GPU draws {p.gpu_idle_fraction:.0%} of TDP idle and TDP while computing; server "
        f"overhead {p.server_overhead_idle_fraction:.0%} idle; network (switches, optics, NICs) constant; PUE {p.pue}"
    )
    if e.layered:
        out += _layers(e)
    return out


def _layers(e: Engine) -> list[str]:
    s = e.spec
    out = [
        f"epochs at most {s.tick_min:g} min apart (data, services, autoscaling); request arrivals counted per "
        f"{s.request_bin_s:g} s bin (Poisson), queue by Lindley's recursion, TTFT/TPOT spread by Gamma "
        f"distributions (CV 0.5 / 0.1), 200 ms TCP RTO per lost frontend segment"
    ]
    if e.storage is not None:
        out.append(
            f"storage fabric: {e.storage.fabric_source}; x{0.9} protocol efficiency; clients limited by "
            f"their storage NICs ({e.storage.client_bytes_per_s_per_server / 1e9:.1f} GB/s per server); max-min "
            f"fair sharing of steady flows, bursts get the rest"
        )
    if s.cpu_pools:
        out.append(
            "CPU pools: every node draws its power_w all the time (in the facility energy) and costs its "
            "usd_per_hour (hardware and operations); pipeline stages share their pipeline's nodes"
        )
    if s.storage is not None:
        out.append(
            "storage tiers cost usd_per_tbyte_month of capacity (defaults: ~public-cloud list prices, $140/TB-month "
            "parallel FS, $23 object store); storage servers' power is not in the BOM"
        )
    ck = s.checkpoint
    if ck is not None and ck.interval_min != "off":
        out.append(
            f"checkpoints: {ck.bytes_per_param:g} bytes/parameter, synchronous writes, interval "
            f"{'Young/Daly sqrt(2 C MTBF)' if ck.interval_min == 'auto' else f'{ck.interval_min:g} min'}"
        )
    f = e.failure_spec
    if s.failures is not None and f.enabled:
        out.append(
            f"failures: {f.interruptions:g} interruptions / {f.days:g} days / {f.gpus:,} GPUs x {f.scale:g} "
            f"= {f.per_gpu_s * 3600:.3g} per GPU-hour (Llama 3); {f.network_share:.1%} fabric links; restart "
            f"{f.restart_min:g} min + restore; servers repaired in {f.repair_h:g} h, links in {f.link_repair_h:g} h"
        )
    return out
