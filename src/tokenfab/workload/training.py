"""Training step time, MFU and tokens/s from the model, the parallelism and the placement.

    T_step = (m + (p - 1) / v) * t_mb + T_dp,exposed + T_optimizer          (Narayanan'21)
    t_mb   = stage FLOPs per micro-batch / (peak * eta) + exposed TP/CP/EP/PP communication

m micro-batches per data-parallel rank, p pipeline stages, v virtual stages (interleaved 1F1B).
Every collective the parallelism issues (table in factory-models.md section 1) goes through the
`CommModel` on the placed GPUs; `overlap` says which fraction of each is hidden behind compute.
MFU = model FLOPs (6N + attention, PaLM) per second / (GPUs * peak of the job's precision).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt

from tokenfab.catalog import Gpu
from tokenfab.errors import InputError
from tokenfab.strict import StrictModel
from tokenfab.workload import memory as mem_model
from tokenfab.workload.comm import Collective, CommModel
from tokenfab.workload.models import ModelSpec, get_model

AXES = ("tp", "cp", "ep", "dp", "pp")


class Parallelism(StrictModel):
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    dp: PositiveInt = 1
    cp: PositiveInt = 1
    ep: PositiveInt = 1  # expert parallelism, carved out of dp (MoE layers only)
    vpp: PositiveInt = 1  # virtual pipeline stages per GPU (interleaved 1F1B)
    zero: Literal[0, 1, 2, 3] = 1  # 1-2: sharded optimizer (RS + AG of grads/params); 3: + params
    # rank order, fastest-varying first; Megatron-LM's default keeps DP inside PP,
    # Llama 3 used tp-cp-pp-dp (DP outermost)
    order: str = Field("tp-cp-ep-dp-pp", pattern=r"^(tp|cp|ep|dp|pp)(-(tp|cp|ep|dp|pp)){3,4}$")

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp * self.cp


class Overlap(StrictModel):
    """Fraction of each parallelism's communication hidden behind compute."""

    tp: float = Field(0.0, ge=0, le=1)  # on the critical path unless TP comm overlap is used
    cp: float = Field(0.5, ge=0, le=1)  # ring attention overlaps K/V exchange with attention
    ep: float = Field(0.0, ge=0, le=1)  # DualPipe-style schedules hide most of it (DeepSeek-V3: 1.0)
    pp: float = Field(0.9, ge=0, le=1)  # asynchronous send/recv
    dp: float = Field(0.9, ge=0, le=1)  # gradient reduce during backward, param gather during forward


class TrainEfficiency(StrictModel):
    # Fraction of dense peak the layer's compute (GEMMs, attention, element-wise kernels) reaches
    # on large transformer shapes: cuBLAS reaches ~75% on big H100 BF16 GEMMs, attention and
    # element-wise kernels less. An assumption; printed with every estimate.
    compute: float = Field(0.60, gt=0, le=1)
    # Fused causal attention (flash attention, forward + backward) reaches less of peak than the
    # GEMMs: FlashAttention-3 on H100 BF16 runs forward at ~600-740 TFLOPS but backward (2.5x the
    # forward's FLOPs) at ~450-500, ~0.5 of peak together; ring/all-gather context parallelism
    # adds per-chunk launches and rescaling. It matters at long sequence, where attention dominates.
    attention: float = Field(
        0.50,
        gt=0,
        le=1,
        description="fraction of dense peak fused causal attention "
        "(forward + backward) reaches; FlashAttention-3 on H100 ~0.5 (an assumption)",
    )
    # HBM bandwidth reached by the optimizer step (streams 16 bytes/param in and out)
    hbm: float = Field(0.8, gt=0, le=1)


class TrainingSpec(StrictModel):
    model: str
    seq_len: PositiveInt
    global_batch: PositiveInt  # sequences per step
    micro_batch: PositiveInt = 1
    precision: Literal["bf16", "fp8"] = "bf16"
    # activation recomputation (workload/memory.py): auto takes the cheapest that fits HBM
    recompute: Literal["auto", "none", "selective", "full"] = "auto"
    sequence_parallel: bool = True  # Megatron sequence parallelism: norms/dropout activations split over TP
    parallelism: Parallelism = Parallelism()
    overlap: Overlap = Overlap()
    efficiency: TrainEfficiency = TrainEfficiency()

    @property
    def gpus(self) -> int:
        return self.parallelism.gpus

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len


def check_training(spec: TrainingSpec, gpus_per_server: int, field: str) -> ModelSpec:
    """Refuse parallelism that cannot run, naming the field and the numbers."""
    m = get_model(spec.model, f"{field}.model")
    p = spec.parallelism
    f = f"{field}.parallelism"
    if p.tp > gpus_per_server:
        raise InputError(
            f"tp = {p.tp} is larger than a server ({gpus_per_server} GPUs): tensor parallelism must stay "
            f"inside one NVLink domain",
            f"{f}.tp",
        )
    if gpus_per_server % p.tp:
        raise InputError(f"tp = {p.tp} does not divide the {gpus_per_server} GPUs of a server", f"{f}.tp")
    if m.heads % p.tp:
        raise InputError(f"tp = {p.tp} does not divide {m.name}'s {m.heads} attention heads", f"{f}.tp")
    if m.ffn_hidden % p.tp:
        raise InputError(f"tp = {p.tp} does not divide {m.name}'s FFN width {m.ffn_hidden}", f"{f}.tp")
    if p.pp * p.vpp > m.layers:
        raise InputError(f"pp x vpp = {p.pp * p.vpp} stages exceed {m.name}'s {m.layers} layers", f"{f}.pp")
    if spec.seq_len % p.cp:
        raise InputError(f"cp = {p.cp} does not divide seq_len {spec.seq_len}", f"{f}.cp")
    if spec.global_batch % (p.dp * spec.micro_batch):
        raise InputError(
            f"global_batch {spec.global_batch} is not a multiple of dp x micro_batch = "
            f"{p.dp} x {spec.micro_batch} = {p.dp * spec.micro_batch}",
            f"{field}.global_batch",
        )
    if p.ep > 1:
        if m.moe is None:
            raise InputError(f"ep = {p.ep} but {m.name} is a dense model (no experts)", f"{f}.ep")
        if m.moe.experts % p.ep:
            raise InputError(f"ep = {p.ep} does not divide {m.name}'s {m.moe.experts} experts", f"{f}.ep")
        if p.dp % p.ep:
            raise InputError(f"ep = {p.ep} must divide dp = {p.dp} (experts are spread over data-parallel ranks)", f"{f}.ep")
    tokens = p.order.split("-")
    if len(set(tokens)) != len(tokens) or not {"tp", "cp", "dp", "pp"} <= set(tokens):
        raise InputError(f"order {p.order!r} must name tp, cp, dp and pp once each (ep optional)", f"{f}.order")
    return m


def rank_groups(p: Parallelism, axes: tuple[str, ...]) -> np.ndarray:
    """Ranks (0..n-1) grouped along `axes`: shape (n_groups, group size), members ascending."""
    order = p.order.split("-")
    if "ep" not in order:
        order.insert(order.index("dp"), "ep")  # ep is the fastest part of dp
    sizes = {"tp": p.tp, "cp": p.cp, "ep": p.ep, "dp": p.dp // p.ep, "pp": p.pp}
    names = order[::-1]  # slowest first, as numpy lays out axes
    grid = np.arange(p.gpus).reshape([sizes[a] for a in names])
    keep = [i for i, a in enumerate(names) if a not in axes]
    grp = [i for i, a in enumerate(names) if a in axes]
    size = int(np.prod([sizes[names[i]] for i in grp])) if grp else 1
    return grid.transpose(keep + grp).reshape(-1, size)


@dataclass
class CommItem:
    collective: Collective
    time_s: float  # one occurrence, alone
    network: bool
    bottleneck: str
    per_microbatch: bool  # counted per micro-batch (tp/cp/ep/pp) or per step (dp)
    count_per_microbatch: float = 0.0


@dataclass
class TrainingStep:
    """A training step decomposed; `stretched(s)` recomposes it with network comm s x slower."""

    spec: TrainingSpec
    model: ModelSpec
    gpu: Gpu
    gpus: int
    microbatches: int
    compute_s_per_microbatch: float
    optimizer_s: float
    items: list[CommItem]
    flops_per_token: float
    executed_flops_per_token: float
    peak_flops: float
    memory_gbytes: float
    stretch: float = 1.0
    warnings: list[str] = field(default_factory=list)
    recompute: str = "none"  # the mode that runs (chosen when the spec says auto)
    memory: mem_model.Memory | None = None
    recompute_note: str = ""
    comm_notes: list[str] = field(default_factory=list)  # the communication model's assumptions

    # -- composition ------------------------------------------------------------------------
    def _t(self, it: CommItem) -> float:
        return it.time_s * (self.stretch if it.network else 1.0)

    def _ov(self, it: CommItem) -> float:
        return it.collective.overlap

    @property
    def exposed_s_per_microbatch(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for it in self.items:
            if it.per_microbatch:
                k = it.collective.parallelism
                out[k] = out.get(k, 0.0) + it.count_per_microbatch * self._t(it) * (1 - self._ov(it))
        return out

    @property
    def t_mb_s(self) -> float:
        return self.compute_s_per_microbatch + sum(self.exposed_s_per_microbatch.values())

    @property
    def pipeline_s(self) -> float:
        p = self.spec.parallelism
        return (self.microbatches + (p.pp - 1) / p.vpp) * self.t_mb_s

    @property
    def bubble_s(self) -> float:
        p = self.spec.parallelism
        return (p.pp - 1) / p.vpp * self.t_mb_s

    @property
    def dp_s(self) -> float:
        return sum(self._t(it) for it in self.items if not it.per_microbatch)

    @property
    def dp_exposed_s(self) -> float:
        t = self.dp_s
        ov = self.spec.overlap.dp
        return max((1 - ov) * t, t - self.pipeline_s)

    @property
    def step_s(self) -> float:
        return self.pipeline_s + self.dp_exposed_s + self.optimizer_s

    @property
    def compute_s(self) -> float:
        return self.microbatches * self.compute_s_per_microbatch

    def exposed_comm_s(self, network: bool) -> float:
        """Communication on the critical path per step, over the network or NVLink only."""
        t = 0.0
        for it in self.items:
            if it.network != network:
                continue
            if it.per_microbatch:
                t += self.microbatches * it.count_per_microbatch * self._t(it) * (1 - self._ov(it))
        if self.items and any((not it.per_microbatch) and it.network == network for it in self.items):
            share = sum(self._t(it) for it in self.items if not it.per_microbatch and it.network == network)
            t += self.dp_exposed_s * (share / self.dp_s if self.dp_s else 0)
        return t

    @property
    def network_idle_s(self) -> float:
        return self.exposed_comm_s(True)

    @property
    def tokens_per_s(self) -> float:
        return self.spec.tokens_per_step / self.step_s

    @property
    def model_tflops_per_gpu(self) -> float:
        return self.flops_per_token * self.spec.tokens_per_step / self.step_s / self.gpus / 1e12

    @property
    def mfu(self) -> float:
        return self.model_tflops_per_gpu * 1e12 / self.peak_flops

    @property
    def hfu(self) -> float:
        return self.mfu * self.executed_flops_per_token / self.flops_per_token

    @property
    def busy_fraction(self) -> float:
        """Share of the step a GPU computes (the rest: bubble, exposed communication, optimizer)."""
        return self.compute_s / self.step_s

    def stretched(self, s: float) -> TrainingStep:
        return replace(self, stretch=s)

    def breakdown(self) -> dict[str, float]:
        d = {
            "compute_s": self.compute_s,
            "bubble_s": self.bubble_s,
            "optimizer_s": self.optimizer_s,
            "dp_exposed_s": self.dp_exposed_s,
        }
        for k, v in self.exposed_s_per_microbatch.items():
            d[f"{k}_exposed_s"] = v * self.microbatches
        d["step_s"] = self.step_s
        return d

    def assumptions(self) -> list[str]:
        s, p, m = self.spec, self.spec.parallelism, self.model
        out = [
            f"model {m.name}: {m.params / 1e9:.1f}B parameters ({m.active_params / 1e9:.1f}B active matmul), "
            f"{m.layers} layers, hidden {m.hidden}",
            f"FLOPs/token = 6N + 3 L s heads (d_qk + d_v) = {self.flops_per_token / 1e12:.3f} TFLOP (PaLM App. B with "
            f"causal attention: half the score matrix; "
            f"attention {self.model.attn_train_flops_per_token(s.seq_len) / self.flops_per_token:.0%} of it)",
            f"parallelism tp {p.tp} pp {p.pp} dp {p.dp} cp {p.cp} ep {p.ep}, virtual stages {p.vpp}, ZeRO {p.zero}, "
            f"rank order {p.order}",
            f"global batch {s.global_batch} x {s.seq_len} tokens, micro-batch {s.micro_batch} -> "
            f"{self.microbatches} micro-batches per pipeline; bubble (p-1)/(v m) = {(p.pp - 1) / (p.vpp * self.microbatches):.3f}",
            f"{self.gpu.model} peak {self.peak_flops / 1e12:.0f} TFLOPS ({s.precision}), compute efficiency "
            f"{s.efficiency.compute:.2f} (fraction of peak the GEMMs and element-wise kernels reach), attention "
            f"{s.efficiency.attention:.2f} (fused causal attention, forward + backward: FlashAttention-3 on H100)",
            f"overlap hidden behind compute: tp {s.overlap.tp}, cp {s.overlap.cp}, ep {s.overlap.ep}, pp {s.overlap.pp}, dp {s.overlap.dp}",
            f"{self.recompute_note}; sequence parallel {'on' if s.sequence_parallel else 'off'}; memory per GPU "
            + (mem_model.breakdown(self.memory) if self.memory else f"~{self.memory_gbytes:.0f} GB")
            + " (activations: Korthikanti et al. 2022 Table 2 with fused attention; state 16 B/param, ZeRO-sharded)",
        ]
        out += self.comm_notes
        for it in self.items:
            c = it.collective
            where = "network" if it.network else "NVLink"
            out.append(
                f"{c.parallelism} {c.kind} over {c.group_size} GPUs ({c.groups.shape[0]} groups), "
                f"{c.size_bytes / 1e6:.1f} MB, {it.time_s * 1e3:.3f} ms each over {where} (bound: {it.bottleneck}), "
                f"x{c.count:g} per step"
            )
        return out


def training_step(
    spec: TrainingSpec, gpu: Gpu, comm: CommModel, placement: np.ndarray, gpus_per_server: int, field: str = "training"
) -> TrainingStep:
    """Step time of `spec` on the GPUs in `placement` (global GPU ids, one per rank, ascending)."""
    m = check_training(spec, gpus_per_server, field)
    p = spec.parallelism
    n = p.gpus
    placement = np.sort(np.asarray(placement, dtype=np.int64))
    if len(placement) != n:
        raise InputError(f"placement has {len(placement)} GPUs, the job needs {n}", field)
    b, s = spec.micro_batch, spec.seq_len
    mbs = spec.global_batch // (p.dp * b)
    act = 2.0  # bytes per activation element (BF16, also in FP8 training)
    peak = (gpu.fp8_dense_tflops if spec.precision == "fp8" and gpu.fp8_dense_tflops else gpu.bf16_dense_tflops) * 1e12
    f_tok = m.train_flops_per_token(s)
    layers_stage = m.layers / p.pp
    moe_layers_stage = m.moe_layers / p.pp
    tok_mb = b * s / p.cp  # tokens per micro-batch on one CP rank
    ne_local = m.nonexpert_params / (p.tp * p.pp)
    ex_local = m.routed_expert_params_total / (p.ep * p.tp * p.pp)
    # memory first: it decides the recomputation, which decides FLOPs and collectives
    options = {mode: _memory(spec, m, ne_local, ex_local, mbs, mode) for mode in mem_model.RECOMPUTE}
    chosen, note = mem_model.choose(spec.recompute, options, gpu.hbm_gbytes)
    warnings: list[str] = []
    if chosen.total_gbytes > gpu.hbm_gbytes:  # a job that cannot run is refused with its numbers
        ask = (
            ""
            if spec.recompute == "auto"
            else (
                f" (recompute {spec.recompute}; "
                + ", ".join(f"{k} needs {v.total_gbytes:.1f} GB" for k, v in options.items())
                + ")"
            )
        )
        raise InputError(
            f"{m.name} with tp {p.tp} pp {p.pp} dp {p.dp} cp {p.cp} ep {p.ep} does not fit the "
            f"{gpu.model}'s {gpu.hbm_gbytes:.0f} GB: {mem_model.breakdown(chosen)}{ask}; "
            f"{'even full recompute is too much: ' if spec.recompute == 'auto' else ''}"
            f"raise pp, tp or cp, use ZeRO 2/3, a smaller micro_batch, or a GPU with more memory",
            f"{field}.parallelism",
        )
    mode = chosen.recompute
    rc = mode == "full"
    # full recompute runs the forward pass twice: 8 instead of 6 per parameter, attention likewise
    f_exec = f_tok * (8 / 6 if rc else 1.0)
    f_attn = m.attn_train_flops_per_token(s) * (8 / 6 if rc else 1.0)
    eff = spec.efficiency
    compute_mb = ((f_exec - f_attn) / eff.compute + f_attn / eff.attention) * b * s / (p.tp * p.cp * p.pp) / peak
    if mode == "selective":  # element-wise kernels again: their bytes once more through HBM
        sel_bytes = 2 * mem_model.SELECTIVE_SAVED * tok_mb * m.hidden / (p.tp if spec.sequence_parallel else 1)
        compute_mb += layers_stage * sel_bytes / (gpu.hbm_tbytes_per_s * 1e12 * spec.efficiency.hbm)

    def groups(*axes: str) -> np.ndarray:
        return placement[rank_groups(p, axes)]

    items: list[CommItem] = []

    def add(kind: str, axes: tuple[str, ...], size: float, par: str, per_mb: float | None, overlap: float):
        if size <= 0:
            return
        g = groups(*axes)
        if g.shape[1] < 2:
            return
        count = per_mb * mbs if per_mb is not None else 1.0
        c = Collective(kind, g, size, par, count=count, overlap=overlap)
        t = comm.time(c)
        items.append(CommItem(c, t.time_s, t.network, t.bottleneck, per_mb is not None, per_mb or 0.0))

    ov = spec.overlap
    # TP with sequence parallelism: 2 all-gathers + 2 reduce-scatters forward and backward per
    # layer = 4 all-reduce equivalents of b s h (Korthikanti'22); 2 more with full recompute
    add("all_reduce", ("tp",), tok_mb * m.hidden * act, "tp", layers_stage * (4 + (2 if rc else 0)), ov.tp)
    # CP: K and V of the whole sequence gathered forward, their gradients reduce-scattered backward
    kv_dim = (m.attention.kv_lora_rank + m.attention.qk_rope_head_dim) if m.attention.kind == "mla" else m.kv_heads * m.head_dim
    add("all_gather", ("cp",), 2 * b * s * kv_dim * act / p.tp, "cp", layers_stage * (2 + (1 if rc else 0)), ov.cp)
    # EP: dispatch + combine forward and backward per MoE layer
    if m.moe and p.ep > 1:
        add(
            "all_to_all",
            ("ep",),
            tok_mb / p.tp * m.moe.top_k * m.hidden * act,
            "ep",
            moe_layers_stage * (4 + (2 if rc else 0)),
            ov.ep,
        )
    # PP: activations forward and gradients backward at each of the v chunk boundaries
    add("send_recv", ("pp",), tok_mb * m.hidden * act / p.tp, "pp", float(p.vpp), ov.pp)
    # DP: gradients (BF16) and parameters, per stage; experts reduce over their own DP group
    for local, axes, par in ((ne_local, ("ep", "dp"), "dp"), (ex_local, ("dp",), "dp")):
        if local <= 0:
            continue
        if p.zero == 0:
            add("all_reduce", axes, 2 * local, par, None, ov.dp)
        else:
            add("reduce_scatter", axes, 2 * local, par, None, ov.dp)
            add("all_gather", axes, 2 * local, par, None, ov.dp)
            if p.zero == 3:  # parameters gathered again for the backward pass
                add("all_gather", axes, 2 * local, par, None, ov.dp)
    # optimizer: Adam streams master weights, moments and grads (16 B/param) in and out of HBM
    shard = ne_local / (p.dp if p.zero else 1) + ex_local / (max(p.dp // p.ep, 1) if p.zero else 1)
    optimizer_s = shard * 32 / (gpu.hbm_tbytes_per_s * 1e12 * spec.efficiency.hbm)
    return TrainingStep(
        spec,
        m,
        gpu,
        n,
        mbs,
        compute_mb,
        optimizer_s,
        items,
        f_tok,
        f_exec,
        peak,
        chosen.total_gbytes,
        1.0,
        warnings,
        mode,
        chosen,
        note,
    )


def _memory(spec: TrainingSpec, m: ModelSpec, ne_local: float, ex_local: float, mbs: int, recompute: str) -> mem_model.Memory:
    """Memory per GPU of the first stage under one recompute mode (workload/memory.py)."""
    p = spec.parallelism
    return mem_model.memory(
        recompute,
        local_params=ne_local,
        expert_params=ex_local,
        expert_dp=p.dp // p.ep,
        zero=p.zero,
        dp=p.dp,
        tokens_mb=spec.seq_len / p.cp * spec.micro_batch,
        hidden=m.hidden,
        tp=p.tp,
        pp=p.pp,
        layers=m.layers,
        microbatches=mbs,
        sequence_parallel=spec.sequence_parallel,
    )
