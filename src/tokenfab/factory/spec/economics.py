"""Power and cost of the factory."""

from __future__ import annotations

from pydantic import Field

from tokenfab.strict import StrictModel


class Power(StrictModel):
    """How the facility draws power (the network's switches, optics and NICs draw constant power)."""

    pue: float = Field(1.3, ge=1.0, le=3.0, description="Power usage effectiveness: facility power / IT power.")
    gpu_idle_fraction: float = Field(0.10, ge=0, le=1, description="Idle GPU draw as a share of TDP (~70 W for an H100).")
    server_overhead_idle_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Server power beyond its GPUs (CPUs, memory, fans, NICs; from the catalog's max "
        "system power) is drawn at this share when idle, in full when its GPUs are busy.",
    )


class Cost(StrictModel):
    """How the factory's GPU-hours are priced: rented, or TCO (capex amortised + opex + energy)."""

    gpu_hour_usd: float | None = Field(None, ge=0, description="Price the GPUs as rented at this $/GPU-hour (default: TCO).")
    amortization_years: float = Field(4.0, gt=0, description="Years the capital cost is spread over.")
    electricity_usd_per_kwh: float = Field(0.10, ge=0, description="Energy price.")
    opex_percent_of_capex: float = Field(
        8.0, ge=0, description="Yearly operations (staff, support, facility space) as a share of capital cost."
    )
    goodput: float = Field(
        0.90, gt=0, le=1, description="Effective training time for the training-cost formula (Llama 3: over 90%)."
    )
