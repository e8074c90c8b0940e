"""The one pydantic base for every file a user writes (intent, factory, sweep, catalog entries).

Unknown keys are refused (a typo never falls back to a default), models are frozen (a parsed
file is a value), and NaN or infinity never pass as a number.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
