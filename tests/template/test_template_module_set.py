"""The template has exactly the agreed module set, so it shows plugin authors the shape to copy."""

from __future__ import annotations

import re
from pathlib import Path

import paymux_template

AGREED = {"settings", "capabilities", "requests", "responses", "webhooks", "provider", "emulator"}
"""Every plugin's public modules (``signing`` too, for a provider that signs requests)."""


def test_the_template_has_the_agreed_modules_and_nothing_else() -> None:
    package = Path(paymux_template.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__"}
    helpers = {m for m in modules if re.fullmatch(r"[a-z]+_[a-z_]+", m)}
    assert modules - helpers == AGREED
    # A helper module belongs to one member of the set: <member>_<part>.py.
    assert all(helper.split("_")[0] in AGREED for helper in helpers)
