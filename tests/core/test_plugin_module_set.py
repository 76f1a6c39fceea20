"""Every installed plugin has the agreed module set, so one plugin reads like another and the
template shows the shape to copy. A third plugin installed next to ours is held to it too."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from paymux import available_providers
from paymux.plugins import provider_class

AGREED = {"settings", "capabilities", "requests", "responses", "webhooks", "provider", "emulator"}
OPTIONAL = {"signing"}
"""``signing`` only for a provider that signs its requests (ECommPay); Omise and the template
authenticate with keys and sign nothing but webhooks."""


def _modules(name: str) -> set[str]:
    package = sys.modules[provider_class(name).__module__.split(".")[0]]
    assert package.__file__ is not None
    # Private modules (_version.py) are packaging, not part of the plugin's shape.
    return {
        p.stem for p in Path(package.__file__).parent.glob("*.py") if not p.stem.startswith("_")
    }


def test_our_plugins_are_checked() -> None:
    assert {"ecommpay", "omise", "template"} <= set(available_providers())


@pytest.mark.parametrize("name", available_providers())
def test_a_plugin_has_the_agreed_modules_and_only_their_helpers(name: str) -> None:
    modules = _modules(name)
    members = {m for m in modules if not re.fullmatch(r"[a-z]+_[a-z_]+", m)}
    assert members >= AGREED, f"{name} lacks {sorted(AGREED - members)}"
    assert members <= AGREED | OPTIONAL, (
        f"{name} has extra modules {sorted(members - AGREED - OPTIONAL)}"
    )
    # A helper belongs to one member of the set: <member>_<part>.py.
    strays = sorted(m for m in modules - members if m.split("_")[0] not in AGREED | OPTIONAL)
    assert not strays, f"{name}: helpers named after no member of the set: {strays}"
