"""One job at a time on the empty fabric: the estimate and the assumptions behind it."""

from __future__ import annotations

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.engine import expand_jobs, make_comm
from tokenfab.factory.scheduler import POLICIES, Inventory, place
from tokenfab.factory.spec import FactorySpec
from tokenfab.workload.inference import inference_estimate
from tokenfab.workload.training import training_step


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
        if (only and j.name != only) or (not only and j.field in seen):
            continue
        seen.add(j.field)
        inv = Inventory(cl)
        gpus = place(inv, POLICIES[spec.scheduler.policy](), j.units, j.tenant)
        G = cl.gpus_per_server
        if j.kind == "training":
            e = training_step(j.workload.training, cl.gpu, comm, gpus, G, j.field)
            head = (f"step {e.step_s:.3f} s, MFU {e.mfu:.1%} ({e.model_tflops_per_gpu:.0f} TFLOPS/GPU), "
                    f"{e.tokens_per_s:,.0f} tokens/s, network idle {e.network_idle_s / e.step_s:.2%} of the step")
        else:
            e = inference_estimate(j.workload.inference, cl.gpu, comm, gpus, G, j.field)
            head = (f"TPOT {e.tpot_s * 1e3:.2f} ms, TTFT {e.ttft_s:.3f} s, {e.output_tokens_per_s:,.0f} output tokens/s "
                    f"({e.tokens_per_s_per_gpu:,.0f} per GPU; decode GPUs alone {e.decode_tokens_per_s_per_gpu:,.0f})")
        out.append((j.name, j.kind, e, head))
    return out
