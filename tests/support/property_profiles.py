"""Hypothesis profiles for the property tests: a fast default run, a thorough slow suite.

``fast()`` is what the default (non-slow) run uses; ``thorough()`` is for the ``slow``-marked twin
of each property (at least 500 examples). ``PAYMUX_PROPERTY_PROFILE=paymux-thorough`` makes the
default run thorough too, e.g. before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FAST = "paymux-fast"
THOROUGH = "paymux-thorough"
PROFILE_ENV = "PAYMUX_PROPERTY_PROFILE"

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile(FAST, max_examples=60, **_COMMON)  # type: ignore[arg-type]
settings.register_profile(THOROUGH, max_examples=500, **_COMMON)  # type: ignore[arg-type]


def fast(examples: int | None = None) -> settings:
    """The default run's settings; ``examples`` lowers the count for a costly property (the
    thorough profile, when selected, still wins)."""
    chosen = os.environ.get(PROFILE_ENV, FAST)
    profile = settings.get_profile(chosen)
    if examples is None or chosen != FAST:
        return profile
    return settings(profile, max_examples=examples)


def thorough() -> settings:
    return settings.get_profile(THOROUGH)
