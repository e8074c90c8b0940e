"""Model architectures as catalog data: the fields of a `models:` entry (shapes and published totals).

The arithmetic on them (parameters, FLOPs, KV bytes) lives in tokenfab.workload.models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from tokenfab.strict import StrictModel


class Attention(StrictModel):
    kind: Literal["gqa", "mla"] = Field(
        "gqa", description="grouped-query (MHA when kv_heads == heads) or multi-head latent (DeepSeek)"
    )
    heads: PositiveInt = Field(description="query heads")
    kv_heads: PositiveInt | None = Field(None, description="gqa: key/value heads; default: heads")
    head_dim: PositiveInt | None = Field(None, description="gqa: per-head width; default: hidden / heads")
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
    experts: PositiveInt = Field(description="routed experts per MoE layer")
    top_k: PositiveInt = Field(description="routed experts each token goes through")
    shared_experts: int = Field(0, ge=0, description="experts every token goes through")
    expert_ffn_hidden: PositiveInt = Field(description="FFN width of one expert (SwiGLU)")
    dense_layers: int = Field(0, ge=0, description="the first layers keep a dense FFN")


class ModelArch(StrictModel):
    name: str = Field(description="the name workloads refer to (training.model / inference.model)")
    description: str = Field("", description="one line for people")
    layers: PositiveInt = Field(description="transformer blocks")
    hidden: PositiveInt = Field(description="model width (d_model)")
    ffn_hidden: PositiveInt = Field(description="dense FFN width; SwiGLU (three hidden x ffn matrices)")
    vocab: PositiveInt = Field(description="vocabulary size")
    tied_embeddings: bool = Field(False, description="input embedding and output head share one matrix")
    attention: Attention = Field(description="attention shape")
    moe: Moe | None = Field(None, description="mixture of experts; absent for a dense model")
    published_params_b: float | None = Field(
        None, gt=0, description="total parameters as published, billions (checked against the shapes)"
    )
    published_active_params_b: float | None = Field(None, gt=0, description="active parameters per token as published, billions")
    sources: dict[str, str] = Field(default_factory=dict, description="where the shapes come from")
