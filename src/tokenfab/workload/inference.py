"""Inference service throughput and latency: prefill compute-bound, decode memory-bound.

A decode iteration generates one token for each sequence in the batch. Per GPU and pipeline stage:

    GEMMs      roof(2 N_active B / (peak eta_c), weight bytes x micro-batches / (HBM eta_w))
    attention  roof(B c F_attn / (peak eta_a), B c KV_tok / (HBM eta_kv))
    roof(c, m) = sqrt(c^2 + m^2): the roofline's max() smoothed near the ridge point
    comm       TP all-reduce (2 per layer), EP dispatch + combine (per MoE layer), PP send
    TPOT       = pp x [(GEMMs + attention) x overhead + comm not hidden by two-batch overlap]

(factory-models.md section 2). Routed experts are spread over the EP group; each GPU streams the
weights of its own experts, and the slowest GPU (expert load imbalance) sets the pace. Prefill runs
one request's new (not cache-hit) tokens per attention rank per iteration; TTFT is that time plus
the KV-cache transfer to a decode GPU when prefill and decode are disaggregated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from tokenfab.catalog import Gpu
from tokenfab.errors import InputError
from tokenfab.strict import StrictModel
from tokenfab.workload.comm import Collective, CommModel
from tokenfab.workload.models import ModelSpec, get_model


class Stage(StrictModel):
    """Parallelism of one replica of a serving stage."""

    tp: PositiveInt = 1
    pp: PositiveInt = 1
    dp: PositiveInt = 1  # attention data-parallel ranks in a replica (DP attention)
    ep: PositiveInt = 1  # GPUs the routed experts are spread over (1, or tp x dp)
    replicas: PositiveInt = 1

    @property
    def gpus_per_replica(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def gpus(self) -> int:
        return self.gpus_per_replica * self.replicas


class InferEfficiency(StrictModel):
    # Fraction of dense peak the GEMMs reach when compute-bound (prefill, large decode batches).
    compute: float = Field(0.60, gt=0, le=1)
    # HBM bandwidth reached streaming weights through small-M GEMMs in decode: DeepGEMM reports
    # ~1.7-2.5 TB/s for M=64 FP8 GEMMs on H800 (3.35 TB/s).
    weights_hbm: float = Field(0.65, gt=0, le=1)
    # Decode attention: FlashMLA reaches 580 TFLOPS (BF16) compute-bound and 3,000 GB/s memory-bound on H800.
    attention_compute: float = Field(0.59, gt=0, le=1)
    kv_hbm: float = Field(0.90, gt=0, le=1)
    # Prefill attention (causal, BF16, not absorbed): FlashAttention-3-class kernels, ~0.5 of peak
    # forward on H100/H800 at a few thousand tokens (an estimate).
    prefill_attention: float = Field(
        0.50, gt=0, le=1, description="fraction of BF16 peak prefill attention kernels reach (an estimate)"
    )
    # Norms, rotary embeddings, routing, quantisation, sampling and kernel launches on top of the
    # GEMMs and attention (an estimate).
    overhead: float = Field(1.15, ge=1)
    # Busiest GPU's routed-token load over the mean after expert load balancing (an estimate:
    # EPLB with redundant experts keeps it near 1.1-1.3).
    ep_imbalance: float = Field(1.2, ge=1)
    # Slowest attention rank's load (sequences x context) over the mean: requests differ in length
    # and a decode load balancer only evens them out approximately (an estimate).
    dp_imbalance: float = Field(1.1, ge=1)


class InferenceSpec(StrictModel):
    model: str
    precision: Literal["fp8", "bf16"] = "bf16"  # weights and GEMMs
    kv_precision: Literal["fp8", "bf16"] = "bf16"
    mode: Literal["colocated", "disaggregated"] = "colocated"
    decode: Stage = Stage()
    prefill: Stage | None = None  # disaggregated only
    batch: PositiveInt = 32  # concurrent sequences per attention rank (per TP group) in decode
    input_tokens: PositiveInt = 2048
    output_tokens: PositiveInt = 256
    context_tokens: PositiveInt | None = None  # mean KV length during decode; default input + output/2
    prefix_cache_hit: float = Field(0.0, ge=0, lt=1)  # share of input tokens found in the KV cache
    micro_batches: Literal[1, 2] = 1  # 2: two-batch overlap of communication and compute
    redundant_experts: int = Field(0, ge=0)  # extra expert copies for load balancing (DeepSeek: 32)
    efficiency: InferEfficiency = InferEfficiency()

    @model_validator(mode="after")
    def _modes(self) -> InferenceSpec:
        if self.mode == "disaggregated" and self.prefill is None:
            raise ValueError("mode disaggregated needs a prefill stage")
        if self.mode == "colocated" and self.prefill is not None:
            raise ValueError("a prefill stage is only used with mode: disaggregated")
        return self

    @property
    def gpus(self) -> int:
        return self.decode.gpus + (self.prefill.gpus if self.prefill else 0)

    @property
    def mean_context(self) -> float:
        return float(self.context_tokens or self.input_tokens + self.output_tokens / 2)


def check_inference(spec: InferenceSpec, gpus_per_server: int, field: str) -> ModelSpec:
    m = get_model(spec.model, f"{field}.model")
    for name, st in (("decode", spec.decode), ("prefill", spec.prefill)):
        if st is None:
            continue
        f = f"{field}.{name}"
        if st.tp > gpus_per_server:
            raise InputError(f"tp = {st.tp} is larger than a server ({gpus_per_server} GPUs)", f"{f}.tp")
        if gpus_per_server % st.tp:
            raise InputError(f"tp = {st.tp} does not divide the {gpus_per_server} GPUs of a server", f"{f}.tp")
        if m.heads % st.tp:
            raise InputError(f"tp = {st.tp} does not divide {m.name}'s {m.heads} attention heads", f"{f}.tp")
        if st.pp > m.layers:
            raise InputError(f"pp = {st.pp} exceeds {m.name}'s {m.layers} layers", f"{f}.pp")
        if st.ep > 1:
            if m.moe is None:
                raise InputError(f"ep = {st.ep} but {m.name} has no experts", f"{f}.ep")
            if st.ep != st.tp * st.dp:
                raise InputError(f"ep = {st.ep} must equal tp x dp = {st.tp * st.dp} (the GPUs of a pipeline stage)", f"{f}.ep")
    return m


@dataclass
class InferItem:
    collective: Collective
    time_s: float
    network: bool
    bottleneck: str
    stage: str  # decode | prefill | kv


@dataclass
class InferenceResult:
    spec: InferenceSpec
    model: ModelSpec
    gpu: Gpu
    decode_compute_s: float  # per iteration, GEMMs + attention with overhead (one pipeline pass)
    decode_parts: dict[str, float]
    prefill_compute_s: float  # one request's new tokens on one attention rank
    items: list[InferItem]
    kv_transfer_s: float
    stretch: float = 1.0
    warnings: list[str] = field(default_factory=list)
    gpus_per_server: int = 8
    comm_notes: list[str] = field(default_factory=list)  # the communication model's assumptions

    def _comm(self, stage: str) -> float:
        return sum(
            it.collective.count * it.time_s * (self.stretch if it.network else 1.0) for it in self.items if it.stage == stage
        )

    def _net_comm(self, stage: str) -> float:
        return sum(it.collective.count * it.time_s * self.stretch for it in self.items if it.stage == stage and it.network)

    def _exposed(self, compute: float, comm: float) -> float:
        hidden = min(comm, compute) if self.spec.micro_batches == 2 else 0.0
        return comm - hidden

    @property
    def decode_iteration_s(self) -> float:
        """Time of one decode iteration (every sequence of the replica gets a token)."""
        c = self.decode_compute_s
        t = c + self._exposed(c, self._comm("decode"))
        if self.spec.mode == "colocated":  # prefill the requests that replace finished ones
            t += self.spec.batch / self.spec.output_tokens * self.prefill_iteration_s
        return t

    @property
    def tpot_s(self) -> float:
        return self.decode_iteration_s

    @property
    def prefill_iteration_s(self) -> float:
        c = self.prefill_compute_s
        return c + self._exposed(c, self._comm("prefill"))

    @property
    def ttft_s(self) -> float:
        return self.prefill_iteration_s + self.kv_transfer_s * (self.stretch if self.spec.mode == "disaggregated" else 0.0)

    @property
    def decode_tokens_per_s(self) -> float:
        """Output tokens/s of all decode replicas."""
        d = self.spec.decode
        return self.spec.batch * d.dp * d.replicas / self.decode_iteration_s

    @property
    def prefill_capacity_tokens_per_s(self) -> float:
        """Input tokens/s (cache hits included) the prefill stage can absorb (disaggregated)."""
        p = self.spec.prefill
        if p is None:
            return math.inf
        return p.dp * p.replicas * self.spec.input_tokens / self.prefill_iteration_s

    @property
    def prefill_tokens_per_s_per_node(self) -> float:
        """Input tokens/s (cache hits included) each prefill server handles when the service runs at
        its output rate: what an operator measures per prefill node (disaggregated only)."""
        p = self.spec.prefill
        if p is None:
            return 0.0
        return self.input_tokens_per_s / (p.gpus / self.gpus_per_server)

    @property
    def prefill_capacity_per_node(self) -> float:
        p = self.spec.prefill
        return self.prefill_capacity_tokens_per_s / (p.gpus / self.gpus_per_server) if p else 0.0

    @property
    def output_tokens_per_s(self) -> float:
        out = self.decode_tokens_per_s
        if self.spec.mode == "disaggregated":
            out = min(out, self.prefill_capacity_tokens_per_s * self.spec.output_tokens / self.spec.input_tokens)
        return out

    @property
    def input_tokens_per_s(self) -> float:
        return self.output_tokens_per_s * self.spec.input_tokens / self.spec.output_tokens

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.output_tokens_per_s / self.spec.gpus

    @property
    def decode_tokens_per_s_per_gpu(self) -> float:
        return self.decode_tokens_per_s / self.spec.decode.gpus

    @property
    def busy_fraction(self) -> float:
        """Share of a decode iteration the GPUs compute (the rest: exposed communication)."""
        c = self.decode_compute_s
        return c / (c + self._exposed(c, self._comm("decode")))

    @property
    def network_idle_fraction(self) -> float:
        c = self.decode_compute_s
        comm = self._comm("decode")
        if comm <= 0:
            return 0.0
        exposed = self._exposed(c, comm)
        return exposed * (self._net_comm("decode") / comm) / (c + exposed)

    def stretched(self, s: float) -> InferenceResult:
        return replace(self, stretch=s)

    def assumptions(self) -> list[str]:
        s, m, e = self.spec, self.model, self.spec.efficiency
        d = s.decode
        out = [
            f"model {m.name}: {m.params / 1e9:.0f}B parameters, {m.active_params / 1e9:.1f}B active; "
            f"KV {m.kv_bytes_per_token(1 if s.kv_precision == 'fp8' else 2):,.0f} bytes/token",
            f"decode replica: tp {d.tp} pp {d.pp} dp {d.dp} ep {d.ep} ({d.gpus_per_replica} GPUs) x {d.replicas}; "
            f"{s.batch} sequences per attention rank, mean context {s.mean_context:,.0f} tokens, {s.micro_batches} micro-batch(es)",
            f"{self.gpu.model}: {self.gpu.bf16_dense_tflops:.0f} BF16 / {self.gpu.fp8_dense_tflops or 0:.0f} FP8 TFLOPS, "
            f"HBM {self.gpu.hbm_tbytes_per_s} TB/s; weights {s.precision}, KV {s.kv_precision}",
            f"efficiencies: GEMM compute {e.compute}, weight streaming {e.weights_hbm} of HBM, attention compute "
            f"{e.attention_compute}, KV reads {e.kv_hbm} of HBM, overhead x{e.overhead}, EP imbalance x{e.ep_imbalance}, "
            f"attention-rank imbalance x{e.dp_imbalance}, prefill attention {e.prefill_attention} of BF16 peak",
            "decode parts per iteration: "
            + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in self.decode_parts.items())
            + "; each kernel takes sqrt(compute^2 + memory^2) (roofline smoothed near the ridge: an assumption)",
        ]
        out += self.comm_notes
        for it in self.items:
            c = it.collective
            out.append(
                f"{it.stage} {c.parallelism} {c.kind} over {c.group_size} GPUs, {c.size_bytes / 1e6:.2f} MB, "
                f"{it.time_s * 1e6:.0f} us each over {'network' if it.network else 'NVLink'} "
                f"(bound: {it.bottleneck}), x{c.count:g} per iteration"
            )
        return out


def _roof(compute_s: float, memory_s: float) -> float:
    """A kernel's time from its compute and memory times. Far from the ridge point the larger one
    rules (the roofline); near it the kernel reaches neither roof, since its loads and its math
    only partly overlap. We take the L2 norm of the two (an assumption: max() overstates decode
    throughput at DeepSeek-V3's published load, where attention sits at the ridge)."""
    return math.hypot(compute_s, memory_s)


def _stage_placement(placement: np.ndarray, st: Stage, offset: int) -> np.ndarray:
    """GPU ids of a stage's replicas: (replicas, gpus_per_replica), replicas laid out in order."""
    n = st.gpus
    return placement[offset : offset + n].reshape(st.replicas, st.gpus_per_replica)


def replica_units(spec: InferenceSpec) -> list[int]:
    """GPUs of each replica, in placement order: decode replicas, then prefill replicas."""
    units = [spec.decode.gpus_per_replica] * spec.decode.replicas
    if spec.prefill:
        units += [spec.prefill.gpus_per_replica] * spec.prefill.replicas
    return units


def inference_estimate(
    spec: InferenceSpec, gpu: Gpu, comm: CommModel, placement: np.ndarray, gpus_per_server: int, field: str = "inference"
) -> InferenceResult:
    """Throughput and latency of `spec` on `placement` (global GPU ids in `replica_units` order)."""
    m = check_inference(spec, gpus_per_server, field)
    placement = np.asarray(placement, dtype=np.int64)  # decode replicas, then prefill replicas
    if len(placement) != spec.gpus:
        raise InputError(f"placement has {len(placement)} GPUs, the service needs {spec.gpus}", field)
    e = spec.efficiency
    wb = 1.0 if spec.precision == "fp8" else 2.0
    kvb = 1.0 if spec.kv_precision == "fp8" else 2.0
    peak = (gpu.fp8_dense_tflops if spec.precision == "fp8" and gpu.fp8_dense_tflops else gpu.bf16_dense_tflops) * 1e12
    peak_attn = gpu.bf16_dense_tflops * 1e12
    hbm = gpu.hbm_tbytes_per_s * 1e12
    d = spec.decode
    warnings: list[str] = []
    items: list[InferItem] = []

    decode_gpus = _stage_placement(placement, d, 0)
    prefill_gpus = _stage_placement(placement, spec.prefill, d.gpus) if spec.prefill else decode_gpus
    pst = spec.prefill or d

    # ---- decode: one pipeline stage of one replica, B sequences per attention rank
    L_s = m.layers / d.pp
    moe_s = m.moe_layers / d.pp
    dense_s = m.dense_layers / d.pp
    B = spec.batch
    shared = m.moe.shared_experts if m.moe else 0
    nonexp_w = (L_s * m.attn_params_per_layer + dense_s * m.dense_ffn_params + moe_s * shared * m.expert_params) / d.tp
    # the output head stays in BF16 under FP8 recipes (DeepSeek-V3 report section 3.3)
    head_w = m.embedding_params / d.pp / d.tp
    nonexp_active = nonexp_w + head_w  # every token goes through all of it
    expert_w = expert_flops = 0.0
    if m.moe:
        slots = m.moe.experts + spec.redundant_experts
        local_experts = math.ceil(slots / d.ep) if d.ep > 1 else slots
        tokens_total = B * d.dp  # one token per sequence, all attention ranks of the stage
        routed_in = tokens_total * m.moe.top_k / (d.ep if d.ep > 1 else 1) * e.ep_imbalance
        # an expert is read only if some token routes to it
        touched = 1.0 - (1.0 - 1.0 / m.moe.experts) ** (tokens_total * m.moe.top_k / spec.micro_batches)
        tp_split = d.tp if d.ep == 1 else 1
        expert_w = local_experts * m.expert_params * moe_s * touched / tp_split
        expert_flops = 2.0 * m.expert_params * moe_s * routed_in / tp_split
        hbm_need = (nonexp_w + local_experts * m.expert_params * moe_s / tp_split) * wb + head_w * 2.0
    else:
        hbm_need = nonexp_w * wb + head_w * 2.0
    gemm_flops = 2.0 * nonexp_active * B + expert_flops
    t_gemm_c = gemm_flops / (peak * e.compute)
    t_gemm_m = spec.micro_batches * ((nonexp_w + expert_w) * wb + head_w * 2.0) / (hbm * e.weights_hbm)
    ctx = spec.mean_context
    kv_split = min(d.tp, m.kv_heads) if m.attention.kind == "gqa" else 1
    attn_flops = B * ctx * m.decode_attn_flops_per_ctx_token() / d.pp / d.tp
    kv_bytes = B * ctx * m.kv_bytes_per_token(kvb) / d.pp / kv_split
    t_attn_c = attn_flops * e.dp_imbalance / (peak_attn * e.attention_compute)
    t_attn_m = kv_bytes * e.dp_imbalance / (hbm * e.kv_hbm)
    decode_compute = (_roof(t_gemm_c, t_gemm_m) + _roof(t_attn_c, t_attn_m)) * e.overhead * d.pp
    parts = {"gemm_compute": t_gemm_c, "weight_reads": t_gemm_m, "attention_compute": t_attn_c, "kv_reads": t_attn_m}
    mem_gb = (hbm_need + kv_bytes) / 1e9
    if mem_gb > gpu.hbm_gbytes * 0.95:
        warnings.append(
            f"decode needs ~{mem_gb:.0f} GB per GPU (weights + KV cache) of the {gpu.model}'s {gpu.hbm_gbytes:.0f} GB"
        )

    def add(stage: str, kind: str, groups: np.ndarray, size: float, par: str, count: float):
        if groups.shape[1] < 2 or size <= 0 or count <= 0:
            return
        c = Collective(kind, groups, size, par, count=count)
        t = comm.time(c)
        imb = e.ep_imbalance if par == "ep" else 1.0
        items.append(InferItem(c, t.time_s * imb, t.network, t.bottleneck, stage))

    mb = spec.micro_batches

    def stage_comm(stage: str, st: Stage, gpus: np.ndarray, tokens_per_rank: float, per_mb: int):
        """TP all-reduce, EP dispatch/combine and PP sends of one pass of `tokens_per_rank` tokens
        through all layers (a decode token, or a prompt, crosses every pipeline stage)."""
        # ranks of a replica: tp fastest, then dp, then pp
        rep = gpus.reshape(st.replicas, st.pp, st.dp, st.tp)
        tokens = tokens_per_rank / per_mb
        if st.tp > 1:
            g = rep.reshape(-1, st.tp)
            add(stage, "all_reduce", g, tokens * m.hidden * 2.0, "tp", 2 * m.layers * per_mb)
        if m.moe and st.ep > 1:
            g = rep.reshape(st.replicas * st.pp, st.dp * st.tp)
            disp = 1.0 + 4.0 / 128 if spec.precision == "fp8" else 2.0  # FP8 values + per-128 scales
            per_rank = tokens / st.tp * m.moe.top_k * m.hidden
            add(stage, "all_to_all", g, per_rank * disp, "ep", m.moe_layers * per_mb)
            add(stage, "all_to_all", g, per_rank * 2.0, "ep", m.moe_layers * per_mb)
        if st.pp > 1:
            g = rep.transpose(0, 2, 3, 1).reshape(-1, st.pp)
            add(stage, "send", g, tokens / st.tp * m.hidden * 2.0, "pp", float(per_mb))

    stage_comm("decode", d, decode_gpus, B, mb)

    # ---- prefill: one request's new tokens per attention rank. The new tokens attend to the cached
    # prefix too (cache hits save its GEMMs, not the attention over it), causally among themselves;
    # attention runs in BF16 at the prefill attention kernels' efficiency, the GEMMs at `compute`.
    S_new = max(1.0, spec.input_tokens * (1 - spec.prefix_cache_hit))
    S_hit = spec.input_tokens - S_new
    gemm = 2.0 * m.active_params * S_new
    attn = m.layers * m.heads * (m.d_qk + m.d_v) * S_new * (S_new + 2.0 * S_hit)
    if m.moe and pst.ep > 1:
        # attention and shared parts stay on the rank's TP group; routed experts spread over EP
        routed = 2.0 * m.expert_params * m.moe_layers * m.moe.top_k * S_new
        gemm_gpu = (gemm - routed) / pst.tp + routed * pst.dp / pst.ep * e.ep_imbalance
    else:
        gemm_gpu = gemm / pst.tp
    prefill_compute = (
        gemm_gpu / (peak * e.compute) + attn / pst.tp * e.dp_imbalance / (peak_attn * e.prefill_attention)
    ) * e.overhead
    stage_comm("prefill", pst, prefill_gpus, S_new, mb)

    # ---- KV transfer prefill -> decode (disaggregated): the whole prompt's cache per request
    kv_s = 0.0
    if spec.prefill is not None:
        kv_req = spec.input_tokens * m.kv_bytes_per_token(kvb)
        n_pairs = min(prefill_gpus.size, decode_gpus.size)
        pairs = np.stack([prefill_gpus.ravel()[:n_pairs], decode_gpus.ravel()[:n_pairs]], axis=1)
        c = Collective("send", pairs, kv_req, "kv", count=B * d.dp * d.replicas / spec.output_tokens / n_pairs)
        t = comm.time(c)
        kv_s = t.time_s
        items.append(InferItem(c, t.time_s, t.network, t.bottleneck, "kv"))
    return InferenceResult(spec, m, gpu, decode_compute, parts, prefill_compute, items, kv_s, 1.0, warnings, gpus_per_server)
