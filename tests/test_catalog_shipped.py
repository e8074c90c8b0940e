"""The shipped catalog: what operators deploy now is there, every figure says where it comes from
(or that it is an estimate), and each SONiC platform's port map is whole."""

import pytest

from tokenfab.catalog import load_catalog

CAT = load_catalog(())
FIGURES = {
    "gpus": (
        "bf16_dense_tflops",
        "fp8_dense_tflops",
        "hbm_gbytes",
        "hbm_tbytes_per_s",
        "nvlink_gbytes_per_s_per_direction",
        "tdp_w",
        "price_usd_per_hour",
    ),
    "nics": ("speed_gbps", "price_usd", "power_w"),
    "servers": ("price_usd", "power_w", "rack_units"),
    "switches": ("price_usd", "power_w", "latency_ns", "buffer_mbytes"),
}


@pytest.mark.parametrize(
    "kind, names",
    [
        (
            "gpus",
            ["A100-40GB", "A100-80GB", "H100", "H200", "B200", "B300", "GB200", "GB300", "MI300X", "MI325X", "MI355X", "Gaudi3"],
        ),
        ("nics", ["ConnectX-7", "ConnectX-8", "BlueField-3", "Thor2", "Pollara400"]),
        (
            "servers",
            [
                "DGX-A100-40GB",
                "HGX-A100-80GB-8",
                "HGX-B300-8",
                "MI300X-8",
                "MI325X-8",
                "MI355X-8",
                "Gaudi3-8",
                "GB200-NVL72",
                "GB300-NVL72",
            ],
        ),
        ("switches", ["SN5600", "SN5400", "TH5-64x800G", "Z9864F"]),
        (
            "models",
            [
                "gpt3-175b",
                "llama3-8b",
                "llama3-70b",
                "llama3-405b",
                "qwen2.5-7b",
                "qwen2.5-72b",
                "qwen3-32b",
                "qwen3-30b-a3b",
                "qwen3-235b-a22b",
                "deepseek-v3",
                "deepseek-r1",
                "mixtral-8x22b",
            ],
        ),
    ],
)
def test_what_operators_deploy_is_shipped(kind, names):
    assert set(names) <= set(getattr(CAT, kind))


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_every_figure_has_a_source_or_says_estimate(kind):
    for item in getattr(CAT, kind).values():
        for field in FIGURES[kind]:
            if field in item.model_fields_set and getattr(item, field):
                src = item.sources.get(field) or item.sources.get("specs")
                assert src, f"{kind} {item.model}: {field} has no source"


def test_nvl72_trays_form_one_72_gpu_domain():
    for name in ("GB200-NVL72", "GB300-NVL72"):
        s = CAT.servers[name]
        assert (s.gpus, s.scaleup_domain_servers, s.scaleup_domain_gpus) == (4, 18, 72)
        assert CAT.gpus[s.gpu_model].nvlink_gbytes_per_s_per_direction == 900


@pytest.mark.parametrize("model", sorted(m for m, s in CAT.switches.items() if s.sonic))
def test_sonic_port_maps_are_whole(model):
    sw = CAT.switches[model]
    assert len(sw.sonic.port_map) == sw.ports
    names = [p.name for p in sw.sonic.port_map]
    lanes = [ln for p in sw.sonic.port_map for ln in p.lanes.split(",")]
    assert len(set(names)) == len(names) and len(set(lanes)) == len(lanes) == sw.ports * sw.lanes_per_port
    for mode in sw.breakout_modes:
        children = {sw.port_name(c, k, mode) for c in range(sw.ports) for k in range(mode.children)}
        assert len(children) == sw.ports * mode.children, mode.mode
