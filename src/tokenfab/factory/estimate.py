"""One job at a time on the empty fabric: the estimate and the assumptions behind it."""

from __future__ import annotations

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.engine import make_comm
from tokenfab.factory.jobs import expand_jobs
from tokenfab.factory.scheduler import POLICIES, Inventory, place
from tokenfab.factory.spec import FactorySpec
from tokenfab.workload.inference import inference_estimate
from tokenfab.workload.training import training_step


def comm_lines(comm) -> list[str]:
    """The communication model's protocol efficiencies with their sources (catalog/data/protocols.yaml)."""
    from tokenfab.catalog.protocols import load_protocols

    p = load_protocols()
    if hasattr(comm, "params"):  # the flow simulator
        nic, nvl = comm.params.efficiency, comm.params.nvlink_efficiency
    else:  # the alpha-beta model
        nic, nvl = comm.config.nic_efficiency, comm.config.nvlink_efficiency
    return [
        f"network model {comm.name}: protocol efficiency NIC {nic:g} ({p.nic.source}); NVLink {nvl:g} "
        f"({p.nvlink.source}); collectives run as NCCL rings (NVLS all-reduce is `tokenfab simulate --algo nvls`)"
    ]


def estimate_alone(spec: FactorySpec, fabric: Fabric, only: str | None = None):
    """[(job name, kind, estimate, headline)] for each distinct job (copies are estimated once)."""
    cl = Cluster(fabric)
    comm = make_comm(spec)(cl)
    jobs = expand_jobs(spec, cl)
    seen, out = set(), []
    names = {j.name for j in jobs}
    if only is not None and only not in names:
        raise InputError(f"no job {only!r}; jobs: {', '.join(sorted(names))}", "--job")
    for j in jobs:
        if (only and j.name != only) or (not only and j.req.field in seen):
            continue
        seen.add(j.req.field)
        inv = Inventory(cl)
        gpus = place(inv, POLICIES[spec.scheduler.policy](), list(j.req.units), j.tenant)
        G = cl.gpus_per_server
        if j.kind == "training":
            e = training_step(j.workload.training, cl.gpu, comm, gpus, G, j.req.field)
            head = (
                f"step {e.step_s:.3f} s, MFU {e.mfu:.1%} ({e.model_tflops_per_gpu:.0f} TFLOPS/GPU), "
                f"{e.tokens_per_s:,.0f} tokens/s, network idle {e.network_idle_s / e.step_s:.2%} of the step"
            )
        else:
            e = inference_estimate(j.workload.inference, cl.gpu, comm, gpus, G, j.req.field)
            head = (
                f"TPOT {e.tpot_s * 1e3:.2f} ms, TTFT {e.ttft_s:.3f} s, {e.output_tokens_per_s:,.0f} output tokens/s "
                f"({e.tokens_per_s_per_gpu:,.0f} per GPU; decode GPUs alone {e.decode_tokens_per_s_per_gpu:,.0f})"
            )
            if e.spec.prefill is not None:
                head += (
                    f"; prefill {e.prefill_tokens_per_s_per_node:,.0f} input tokens/s per node "
                    f"(capacity {e.prefill_capacity_per_node:,.0f})"
                )
        e.comm_notes = comm_lines(comm)
        out.append((j.name, j.kind, e, head))
    return out
