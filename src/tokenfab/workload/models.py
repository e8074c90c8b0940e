"""Model architectures (the public library in data/models.yaml) and the arithmetic on them:
parameter counts, FLOPs per token, KV-cache bytes per token.

FLOPs follow PaLM (arXiv 2204.02311, App. B): training costs 6 x N per token for the matmul
parameters N plus attention scores and values. PaLM counts the whole s x s score matrix,
6 x L x s x heads x (d_qk + d_v) (12 L h s for standard attention); a causal mask leaves half of it,
and fused attention kernels skip the masked tiles, so we count 3 x L x s x heads x (d_qk + d_v)
(as Megatron-LM's FLOPs count does): at 8K this changes little, at 131K it is most of the
difference. N counts the output head but not the
input embedding (a table lookup). For MoE models N is the active parameters (top-k + shared
experts), which is what a token actually multiplies through.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import ValidationError

from tokenfab.catalog import load_catalog
from tokenfab.catalog.models import Attention, ModelArch, Moe  # noqa: F401 (re-exported)
from tokenfab.errors import InputError
from tokenfab.strict import validation_message


class ModelSpec(ModelArch):
    """A model architecture (catalog entry) with the arithmetic on it."""

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
        """Attention scores and values under a causal mask, forward + backward: 3 L s heads (d_qk + d_v)
        (PaLM's 6 L s heads (d_qk + d_v), halved: a token attends to the ones before it)."""
        return 3.0 * self.layers * seq_len * self.heads * (self.d_qk + self.d_v)

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


_TYPED: dict[int, dict[str, ModelSpec]] = {}


def library() -> dict[str, ModelSpec]:
    """The models of the catalog in force (shipped models.yaml plus the user's catalog files)."""
    cat = load_catalog()
    if id(cat) not in _TYPED:
        out = {}
        for name, row in cat.models.items():
            try:
                out[name] = ModelSpec.model_validate(row)
            except ValidationError as exc:
                raise InputError(f"model {name!r} ({cat.source_of('models', name)}): {validation_message(exc)}") from None
        _TYPED[id(cat)] = out
    return _TYPED[id(cat)]


def get_model(name: str, field: str | None = None) -> ModelSpec:
    lib = library()
    if name not in lib:
        raise InputError(
            f"unknown model {name!r}; the library has: {', '.join(sorted(lib))} (add your own under `models:` in a catalog file)",
            field,
        )
    return lib[name]
