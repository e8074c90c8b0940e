"""Training memory per GPU, and the activation recomputation that makes a configuration fit.

    memory = model state + activations of the micro-batches in flight on the first pipeline stage

Model state: BF16 weights and gradients with FP32 master weights and Adam moments, 16 bytes per
parameter, of which ZeRO stage 1 shards the 12 optimizer bytes over data parallelism (6 + 12/d),
stage 2 also the gradients (2 + 14/d), stage 3 everything (16/d); routed experts over their own
data-parallel group (d / ep), since expert parallelism already splits them.

Activations per transformer layer and micro-batch (Korthikanti et al. 2022, "Reducing Activation
Recomputation in Large Transformer Models", Table 2), s tokens per CP rank, b sequences, hidden h,
t-way tensor parallelism, in bytes; attention kernels are fused (flash attention), so the 5 a s^2 b
terms of the paper's unfused attention are never stored:

    sequence parallel on (default):   none       34 s b h / t
                                      selective  22 s b h / t   layer norms and the MLP activation
                                                                recomputed (12 s b h of the 34)
                                      full        2 s b h / t   only each layer's input is kept
    sequence parallel off:            none       s b h (10 + 24 / t)
                                      selective  s b h (6 + 16 / t)
                                      full        2 s b h

The 1F1B schedule keeps min(m, p) micro-batches in flight on the first stage, each with its L / p
layers: about L layers' worth.

What recomputation costs: `full` runs every layer's forward pass again in the backward pass (8
instead of 6 FLOPs per parameter and token, TP/CP/EP collectives of the forward issued again);
`selective` re-runs element-wise kernels only, charged as their HBM traffic (reading their inputs
and writing the 12 s b h / t bytes again) at the optimizer's HBM efficiency.

`recompute: auto` (the default) takes the cheapest of none, selective, full that fits the GPU's
HBM; a configuration that fits with none of them is refused with the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RECOMPUTE = ("none", "selective", "full")
# bytes per (s b h) per layer, with sequence parallelism: divided by t entirely
SP_COEF = {"none": 34.0, "selective": 22.0, "full": 2.0}
# without sequence parallelism: (replicated part, part divided by t)
NO_SP_COEF = {"none": (10.0, 24.0), "selective": (6.0, 16.0), "full": (2.0, 0.0)}
SELECTIVE_SAVED = 12.0  # s b h / t bytes per layer the selective mode recomputes


@dataclass(frozen=True)
class Memory:
    """Memory per GPU of one recompute choice, in GB (1e9 bytes)."""

    recompute: str
    state_gbytes: float
    activations_gbytes: float
    per_layer_gbytes: float  # one layer, one micro-batch
    layers_in_flight: int  # layers x micro-batches held on the first stage

    @property
    def total_gbytes(self) -> float:
        return self.state_gbytes + self.activations_gbytes


def state_bytes(local_params: float, zero: int, dp: int) -> float:
    return {0: 16.0, 1: 6 + 12 / dp, 2: 2 + 14 / dp, 3: 16 / dp}[zero] * local_params


def activation_coef(recompute: str, tp: int, sequence_parallel: bool) -> float:
    """Bytes per (s b h) per layer on one GPU."""
    if sequence_parallel:
        return SP_COEF[recompute] / tp
    rep, split = NO_SP_COEF[recompute]
    return rep + split / tp


def memory(
    recompute: str,
    *,
    local_params: float,
    zero: int,
    dp: int,
    tokens_mb: float,
    hidden: int,
    tp: int,
    pp: int,
    layers: int,
    microbatches: int,
    sequence_parallel: bool = True,
    expert_params: float = 0.0,
    expert_dp: int = 1,
) -> Memory:
    """Memory per GPU of the first pipeline stage; tokens_mb = s b on one CP rank. Routed experts
    (expert_params per GPU) shard their state over their own data-parallel group (dp / ep)."""
    per_layer = tokens_mb * hidden * activation_coef(recompute, tp, sequence_parallel)
    in_flight = math.ceil(layers / pp) * min(microbatches, pp)
    state = state_bytes(local_params, zero, dp) + state_bytes(expert_params, zero, max(expert_dp, 1))
    return Memory(recompute, state / 1e9, per_layer * in_flight / 1e9, per_layer / 1e9, in_flight)


def choose(requested: str, options: dict[str, Memory], hbm_gbytes: float) -> tuple[Memory, str]:
    """The recompute mode to run and why (a sentence for the assumptions), or None when nothing fits.

    `options` holds the memory of every mode; `requested` is auto or one mode."""
    if requested != "auto":
        m = options[requested]
        return m, f"recompute {requested} (as configured): {m.total_gbytes:.1f} GB per GPU of {hbm_gbytes:.0f} GB"
    tried: list[str] = []
    for mode in RECOMPUTE:
        m = options[mode]
        if m.total_gbytes <= hbm_gbytes:
            why = f"recompute {mode} (chosen: the cheapest that fits {hbm_gbytes:.0f} GB"
            why += f"; {', '.join(tried)})" if tried else ")"
            return m, why
        tried.append(f"{mode} needs {m.total_gbytes:.1f} GB")
    return options["full"], ""


def breakdown(m: Memory) -> str:
    return (
        f"{m.total_gbytes:.1f} GB = model state {m.state_gbytes:.1f} GB + activations {m.activations_gbytes:.1f} GB "
        f"({m.per_layer_gbytes * 1e3:.0f} MB per layer x {m.layers_in_flight} layer-micro-batches in flight)"
    )
