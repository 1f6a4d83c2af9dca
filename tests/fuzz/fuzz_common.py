"""Shared hypothesis settings of the fuzz suite.

`FUZZ_EXAMPLES=N` (environment) sets every test's example count; the default
keeps `make test` short. docs/reliability.md records a long run's figures.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


def fuzz(scale: float = 1.0) -> settings:
    """Settings for one fuzz test: `scale` times the example count."""
    return settings(max_examples=max(10, int(EXAMPLES * scale)), deadline=None,
                    derandomize=False, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
