"""Model architectures (the public library in data/models.yaml) and the arithmetic on them:
parameter counts, FLOPs per token, KV-cache bytes per token.

FLOPs follow PaLM (arXiv 2204.02311, App. B): training costs 6 x N per token for the matmul
parameters N plus 6 x L x s x heads x (d_qk + d_v) for attention scores and values (12 L h s for
standard attention), without halving for the causal mask. N counts the output head but not the
input embedding (a table lookup). For MoE models N is the active parameters (top-k + shared
experts), which is what a token actually multiplies through.
"""

from __future__ import annotations

from functools import cache, cached_property
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, PositiveInt, model_validator

from tokenfab.errors import InputError
from tokenfab.strict import StrictModel


class Attention(StrictModel):
    kind: Literal["gqa", "mla"] = "gqa"  # grouped-query (MHA when kv_heads == heads) or multi-head latent
    heads: PositiveInt
    kv_heads: PositiveInt | None = None  # gqa; default: heads
    head_dim: PositiveInt | None = None  # gqa; default: hidden / heads
    # mla (DeepSeek-V2/V3): low-rank query and a shared latent KV of kv_lora_rank + rope dims per token
    q_lora_rank: int = Field(0, ge=0)
    kv_lora_rank: int = Field(0, ge=0)
    qk_nope_head_dim: int = Field(0, ge=0)
    qk_rope_head_dim: int = Field(0, ge=0)
    v_head_dim: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _shape(self) -> Attention:
        if self.kind == "mla" and not (self.kv_lora_rank and self.qk_nope_head_dim and self.v_head_dim):
            raise ValueError("mla attention needs kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim")
        if self.kind == "gqa" and self.kv_heads and self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        return self


class Moe(StrictModel):
    experts: PositiveInt  # routed experts per MoE layer
    top_k: PositiveInt
    shared_experts: int = Field(0, ge=0)
    expert_ffn_hidden: PositiveInt
    dense_layers: int = Field(0, ge=0)  # the first layers keep a dense FFN


class ModelSpec(StrictModel):
    name: str
    description: str = ""
    layers: PositiveInt
    hidden: PositiveInt
    ffn_hidden: PositiveInt  # dense FFN width (SwiGLU)
    vocab: PositiveInt
    tied_embeddings: bool = False
    attention: Attention
    moe: Moe | None = None
    published_params_b: float | None = None
    published_active_params_b: float | None = None
    sources: dict[str, str] = Field(default_factory=dict)

    # -- shapes -----------------------------------------------------------------------
    @property
    def heads(self) -> int:
        return self.attention.heads

    @property
    def d_qk(self) -> int:
        a = self.attention
        return a.qk_nope_head_dim + a.qk_rope_head_dim if a.kind == "mla" else self.head_dim

    @property
    def d_v(self) -> int:
        return self.attention.v_head_dim if self.attention.kind == "mla" else self.head_dim

    @property
    def head_dim(self) -> int:
        return self.attention.head_dim or self.hidden // self.heads

    @property
    def kv_heads(self) -> int:
        return self.attention.kv_heads or self.heads

    @property
    def moe_layers(self) -> int:
        return self.layers - self.moe.dense_layers if self.moe else 0

    @property
    def dense_layers(self) -> int:
        return self.layers - self.moe_layers

    # -- parameters per piece ------------------------------------------------------------
    @cached_property
    def attn_params_per_layer(self) -> int:
        a, h = self.attention, self.hidden
        if a.kind == "mla":
            q = h * a.q_lora_rank + a.q_lora_rank * a.heads * self.d_qk if a.q_lora_rank else h * a.heads * self.d_qk
            kv = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank * a.heads * (a.qk_nope_head_dim + a.v_head_dim)
            return q + kv + a.heads * a.v_head_dim * h
        q_o = 2 * h * self.heads * self.head_dim
        return q_o + 2 * h * self.kv_heads * self.head_dim

    @property
    def dense_ffn_params(self) -> int:
        return 3 * self.hidden * self.ffn_hidden

    @property
    def expert_params(self) -> int:
        return 3 * self.hidden * self.moe.expert_ffn_hidden if self.moe else 0

    @property
    def router_params(self) -> int:
        return self.hidden * self.moe.experts if self.moe else 0

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @cached_property
    def routed_expert_params_total(self) -> int:
        """All routed experts of all MoE layers: the part expert parallelism splits."""
        return self.moe_layers * self.moe.experts * self.expert_params if self.moe else 0

    @cached_property
    def params(self) -> int:
        p = self.layers * self.attn_params_per_layer + self.dense_layers * self.dense_ffn_params
        if self.moe:
            p += self.moe_layers * ((self.moe.experts + self.moe.shared_experts) * self.expert_params + self.router_params)
        return p + self.embedding_params * (1 if self.tied_embeddings else 2)

    @cached_property
    def nonexpert_params(self) -> int:
        """Parameters every replica of a layer holds (attention, dense FFN, shared experts, embeddings)."""
        return self.params - self.routed_expert_params_total

    @cached_property
    def active_params(self) -> int:
        """Matmul parameters one token goes through (no input embedding lookup)."""
        p = self.layers * self.attn_params_per_layer + self.dense_layers * self.dense_ffn_params
        if self.moe:
            p += self.moe_layers * ((self.moe.top_k + self.moe.shared_experts) * self.expert_params + self.router_params)
        return p + self.embedding_params

    # -- FLOPs ----------------------------------------------------------------------------
    def attn_train_flops_per_token(self, seq_len: int) -> float:
        """Attention scores and values, forward + backward: 6 L s heads (d_qk + d_v) (PaLM)."""
        return 6.0 * self.layers * seq_len * self.heads * (self.d_qk + self.d_v)

    def train_flops_per_token(self, seq_len: int) -> float:
        return 6.0 * self.active_params + self.attn_train_flops_per_token(seq_len)

    def prefill_flops(self, tokens: int) -> float:
        """Forward pass over a prompt of `tokens` with a causal mask: 2 N S + L S^2 heads (d_qk + d_v)."""
        return 2.0 * self.active_params * tokens + self.layers * tokens * tokens * self.heads * (self.d_qk + self.d_v)

    def decode_attn_flops_per_ctx_token(self) -> float:
        """Decode attention FLOPs per generated token per context token, all layers.
        MLA decodes with the absorbed form (FlashMLA): scores over kv_lora + rope, values over kv_lora."""
        a = self.attention
        if a.kind == "mla":
            return 2.0 * self.layers * self.heads * (2 * a.kv_lora_rank + a.qk_rope_head_dim)
        return 2.0 * self.layers * self.heads * (self.d_qk + self.d_v)

    # -- KV cache --------------------------------------------------------------------------
    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        a = self.attention
        if a.kind == "mla":
            return self.layers * (a.kv_lora_rank + a.qk_rope_head_dim) * bytes_per_value
        return 2.0 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


@cache
def library() -> dict[str, ModelSpec]:
    text = resources.files("tokenfab.workload").joinpath("data", "models.yaml").read_text()
    return {row["name"]: ModelSpec.model_validate(row) for row in yaml.safe_load(text)["models"]}


def get_model(name: str, field: str | None = None) -> ModelSpec:
    lib = library()
    if name not in lib:
        raise InputError(f"unknown model {name!r}; the library has: {', '.join(sorted(lib))}", field)
    return lib[name]
