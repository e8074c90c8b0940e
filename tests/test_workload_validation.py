"""Against public figures (run with -s to see the assumptions behind each number):

- Llama 3 405B on 16,384 H100 (TP 8, PP 16, DP 128, 8K sequences, BF16): Meta published 41% MFU
  (arXiv 2407.21783, Table 4); the model must land within 41% +- 5 points.
- DeepSeek-V3 production decode on H800 (EP144, 18 nodes): ~14.8k output tokens/s per node,
  1,850 per GPU (open-infra-index, day 6); the model must land within 25%.
"""

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tokenfab.clikit import load_plan_or_intent
from tokenfab.factory.estimate import estimate_alone
from tokenfab.errors import InputError
from tokenfab.factory.spec import load_factory, parse_factory

VALIDATION = EXAMPLES / "validation"


def estimate(name: str, **training):
    """The validation file's single job estimated alone; keyword arguments replace training keys."""
    spec, raw = load_factory(VALIDATION / name)
    if training:
        job = raw["jobs"][0]
        job["training"] = {**job["training"], **training}
        spec = parse_factory(raw)
    fabric = load_plan_or_intent(Path(VALIDATION / spec.fabric))
    (_, _, est, head), = estimate_alone(spec, fabric)
    print(f"\n{name}: {head}")
    for line in est.assumptions():
        print("  -", line)
    return est


def test_llama3_405b_mfu_on_16k_h100():
    est = estimate("llama3-405b-16k.yaml")
    assert est.gpus == 16_384
    assert 0.36 <= est.mfu <= 0.46, f"MFU {est.mfu:.1%} is outside 41% +- 5 points"
    # where the step goes: the pipeline bubble and TP all-reduces dominate what is not compute
    b = est.breakdown()
    assert b["bubble_s"] > b["dp_exposed_s"] and b["tp_exposed_s"] > b["pp_exposed_s"]
    # the assumptions name the inputs a reader needs to check the figure
    text = "\n".join(est.assumptions())
    for needle in ("6N", "tp 8 pp 16 dp 128", "compute efficiency 0.60", "bubble", "dp reduce_scatter over 128 GPUs"):
        assert needle in text


def test_deepseek_v3_decode_tokens_per_gpu_on_h800():
    est = estimate("deepseek-v3-serving.yaml")
    published = 14_800 / 8
    got = est.decode_tokens_per_s_per_gpu
    assert abs(got / published - 1) <= 0.25, f"{got:,.0f} tokens/s per decode GPU vs {published:,.0f} published"
    # two micro-batches hide the EP all-to-all behind compute: the network is not on the critical path
    assert est.network_idle_fraction == 0.0
    # ...but it would be without the overlap
    assert est.spec.micro_batches == 2
    assert est.tpot_s == pytest.approx(est.decode_iteration_s)


def test_llama3_405b_fits_80_gb_with_selective_recompute():
    """Llama 3 405B, TP8 PP16 at 8K on 80 GB H100: keeping every activation needs ~92 GB, so the
    estimate recomputes the cheap element-wise parts (selective) and says so."""
    est = estimate("llama3-405b-16k.yaml")
    assert est.recompute == "selective" and est.fits
    assert est.memory.total_gb <= 80 < 90 < est.memory.state_gb + est.memory.activations_gb * 34 / 22
    text = "\n".join(est.assumptions())
    assert "recompute selective (chosen: the cheapest that fits 80 GB; none needs 92.3 GB)" in text
    assert "sequence parallel on" in text and "Korthikanti" in text
    # selective recompute costs HBM passes, not a second forward pass: MFU and HFU stay equal
    assert est.hfu == pytest.approx(est.mfu)


def test_full_recompute_charges_a_second_forward_pass():
    sel = estimate("llama3-405b-16k.yaml")
    full = estimate("llama3-405b-16k.yaml", recompute="full")
    assert full.recompute == "full" and full.memory.activations_gb < sel.memory.activations_gb / 10
    assert full.hfu / full.mfu == pytest.approx(8 / 6)
    assert full.step_s > 1.2 * sel.step_s
    # without sequence parallelism the norms' activations are replicated over TP: more memory
    no_sp = estimate("llama3-405b-16k.yaml", recompute="full", sequence_parallel=False)
    assert no_sp.memory.activations_gb > full.memory.activations_gb


@pytest.mark.parametrize("training, words", [
    ({"recompute": "none"}, ["does not fit the H100's 80 GB", "recompute none; none needs 92.3 GB, selective needs"]),
    ({"parallelism": {"tp": 8, "pp": 2, "dp": 1024, "zero": 1, "order": "tp-cp-pp-dp"}},
     ["does not fit the H100's 80 GB", "model state 1", "even full recompute is too much", "raise pp"]),
])
def test_a_configuration_that_does_not_fit_is_refused_with_its_numbers(training, words):
    with pytest.raises(InputError) as exc:
        estimate("llama3-405b-16k.yaml", **training)
    for w in words:
        assert w in str(exc.value)
