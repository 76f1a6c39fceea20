"""An Omise-only sandbox per test module, and its emulator with default knobs in every test.

Import both names into a test module (and list them in its ``__all__``) for pytest to find them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paymux.sandbox import Sandbox
from paymux_omise.emulator import OmiseEmulator, OmiseKnobs


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(emulators={"omise": OmiseEmulator}) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[Any]:
    """The module's emulator with default knobs and no fault counted yet; knobs reset after,
    so a test that tunes it cannot leak into the next one."""
    emulator: Any = sandbox.emulators["omise"]
    emulator.knobs = OmiseKnobs()
    emulator.fault_counts.clear()
    yield emulator
    emulator.knobs = OmiseKnobs()
