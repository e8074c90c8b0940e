"""The model library: parameter counts from the shapes match the published totals, KV-cache
bytes per token match the figures in factory-models.md, FLOPs follow PaLM's 6N + 12 L h s."""

import pytest

from tokenfab.errors import InputError
from tokenfab.workload.models import get_model, library


@pytest.mark.parametrize("name", sorted(library()))
def test_parameter_counts_match_published(name):
    m = get_model(name)
    assert m.params / 1e9 == pytest.approx(m.published_params_b, rel=0.01)
    if m.published_active_params_b:
        assert m.active_params / 1e9 == pytest.approx(m.published_active_params_b, rel=0.03)


@pytest.mark.parametrize("name, kv", [("llama3-70b", 327_680), ("llama3-405b", 516_096), ("deepseek-v3", 70_272)])
def test_kv_bytes_per_token_match_the_notes(name, kv):
    assert get_model(name).kv_bytes_per_token(2) == kv


def test_flops_per_token_is_6n_plus_attention():
    m = get_model("llama3-405b")
    s = 8192
    assert m.train_flops_per_token(s) == 6 * m.active_params + 6 * m.layers * m.hidden * s  # causal: half of 12 L h s
    # causal prefill: 2 N S + 2 L h S^2 for standard attention
    assert m.prefill_flops(1000) == 2 * m.active_params * 1000 + 2 * m.layers * m.hidden * 1000**2


def test_moe_active_parameters_are_a_fraction():
    m = get_model("deepseek-v3")
    assert m.active_params < 0.06 * m.params
    assert m.nonexpert_params + m.routed_expert_params_total == m.params


def test_unknown_model_names_the_library():
    with pytest.raises(InputError, match="llama3-70b"):
        get_model("gpt-9", "jobs.0.training.model")
