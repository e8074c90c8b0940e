"""tokenfab.sim: a flow-level simulator of NCCL collectives on the planned fabric.

What it models (each module documents its formulas):
    network.py      the Fabric's links (each direction its own capacity, parallel links apart) and
                    every GPU's NVLink port; protocol efficiencies per interconnect (NIC, NVLink,
                    NVLS; catalog/data/protocols.yaml); latency per hop
    routing.py      ECMP on the RoCEv2 5-tuple (UDP source port per QP, per-switch seeds),
                    adaptive routing per flowlet, packet spraying
    faults.py       links/switches down, degraded links, packet loss per link or per path under
                    go-back-N or selective repeat with timeouts, added latency and jitter
    collectives.py  ring, double-binary-tree and NVLS all-reduce, all-gather, reduce-scatter, all-to-all
                    (PXN), broadcast, reduce, send/recv; rail-aligned channels; nccl-tests sizes
    engine.py       max-min fair rates by progressive filling on a sparse flows x resources
                    matrix, recomputed at every flow start and finish
    api.py          the functions below

Python API (all times in seconds, bandwidths in GB/s = 1e9 bytes/s):

    import tokenfab
    from tokenfab import sim
    fabric = tokenfab.plan(tokenfab.load_intent("examples/clos-2048.yaml"))

    # one collective: time_s, algbw_GBps, busbw_GBps, latency_s, bandwidth_s, group_finish_s
    r = sim.collective_time(fabric, "all_reduce", gpus=256, size_bytes=1 << 30,
                            routing="ecmp", qps=1, seed=0)            # or routing="adaptive"/"spray"
    r.busbw_GBps, r.time_s, r.gpu_idle(compute_s=0.2), r.link_utilization()

    # gpus: an int (the first N GPUs), global GPU ids (server * gpus_per_server + local), names
    # ("srv-3" = all its GPUs, "srv-3:gpu2"), or servers=["srv-1..srv-16"] (rank order = order given)
    r = sim.collective_time(fabric, "all_to_all", servers="srv-1,srv-9,srv-2,srv-10", size_bytes=1 << 28)

    # faults and model knobs
    f = sim.Faults(down=("spine-3",), degrade={"leaf-r1-1--spine-1": 0.5}, loss=1e-4,
                   loss_scope="link", recovery="go-back-n", jitter_s=2e-6)
    p = sim.SimParams(efficiency=1.0, nvlink_efficiency=1.0, channels_per_nic=2)
    r = sim.collective_time(fabric, "all_reduce", 512, 1 << 30, faults=f, params=p)

    # point-to-point (pipeline stages): explicit (src, dst) global GPU id pairs
    r = sim.collective_time(fabric, "send_recv", pairs=[(0, 8), (8, 16)], size_bytes=1 << 26)

    # several jobs at once (contention): per-job time, time alone, slowdown
    jobs = [sim.Job("all_reduce", 1 << 30, servers="srv-1..srv-32", name="train-a"),
            sim.Job("all_to_all", 1 << 28, servers="srv-33..srv-64", name="moe-b", start_s=0.001),
            sim.Job("send_recv", 1 << 26, pairs=[(520, 528)], name="pp-c")]
    out = sim.run_jobs(fabric, jobs, routing="ecmp", seed=3)
    [(j.name, j.time_s, j.alone_s, j.slowdown, j.busbw_GBps) for j in out.jobs]
    out.run.finish_s, out.group_job   # every coupled flow's finish time and the job it belongs to

    # many calls on one fabric: build a Simulator once (shortest paths are cached)
    s = sim.Simulator(fabric, p, f)
    rows = s.sweep("all_reduce", s.gpus(servers="srv-1..srv-8"), [2**k for k in range(20, 31)],
                   routing=sim.Routing("ecmp", qps=4, seed=1), record_links=True)
    times, loads, ids = rows[-1].timeline()   # link load (bytes/s) per interval, per link direction

Results carry `group_finish_s` (per coupled flow: a ring channel, a tree, an all-to-all connection),
`group_labels`, `link_utilization()` (mean per resource; names via `r.net.resource_name(i)`),
`latency_s` and `bandwidth_s`. A collective's rates do not depend on its size, so `sweep` simulates
each algorithm once and scales; `run_jobs` simulates the jobs' flows together, event by event.
"""

# Names resolve on first use (PEP 562), so `import tokenfab.sim.commands` (every CLI start)
# does not pull in scipy and the engine.
_HOME = {
    **dict.fromkeys(
        ("CollectiveResult", "Job", "JobResult", "JobsResult", "Simulator", "collective_time", "run_jobs", "select_gpus"), "api"
    ),
    **dict.fromkeys(("COLLECTIVES", "nccl_sizes", "parse_size", "size_series"), "sizes"),
    "Faults": "faults",
    "Network": "network",
    "SimParams": "network",
    "Routing": "routing",
}


def __getattr__(name: str):
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f"tokenfab.sim.{_HOME[name]}"), name)
    raise AttributeError(f"module 'tokenfab.sim' has no attribute {name!r}")


__all__ = [
    "collective_time",
    "run_jobs",
    "Simulator",
    "Job",
    "JobResult",
    "JobsResult",
    "CollectiveResult",
    "Faults",
    "SimParams",
    "Routing",
    "Network",
    "select_gpus",
    "COLLECTIVES",
    "nccl_sizes",
    "parse_size",
    "size_series",
]
