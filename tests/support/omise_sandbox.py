"""An Omise-only sandbox per test module, its emulator with default knobs in every test, and
Omise's official client pointed at it.

Import the names used into a test module (and list them in its ``__all__``) for pytest to find them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import omise
import pytest

from paymux.sandbox import Sandbox
from paymux_omise.emulator import PUBLIC_KEY, SECRET_KEY, OmiseEmulator, OmiseKnobs


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


@pytest.fixture
def official_client(sandbox: Sandbox) -> Iterator[None]:
    """Omise's official Python client pointed at the module's emulator, restored after."""
    saved = (omise.api_secret, omise.api_public, omise.api_main, omise.api_version)
    omise.api_secret, omise.api_public = SECRET_KEY, PUBLIC_KEY
    # The client joins paths with urljoin, which needs the trailing slash.
    omise.api_main, omise.api_version = f"{sandbox.base_url}/omise/", "2019-05-29"
    yield
    omise.api_secret, omise.api_public, omise.api_main, omise.api_version = saved
