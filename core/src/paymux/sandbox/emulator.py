"""The contract of a provider emulator (entry-point group ``paymux.sandboxes``)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

# Re-exported: plugins' emulators import these from here.
from .emulator_types import CUSTOMER_ACTIONS, CustomerAction, PendingPayment

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .hub import SandboxHub

__all__ = ["CUSTOMER_ACTIONS", "CustomerAction", "Emulator", "PendingPayment"]


class Emulator(ABC):
    """Speaks one provider's API well enough for paymux's plugin, its docs' examples and tests.

    Mounted at ``/<name>`` of the sandbox. It checks credentials and signatures like the real API,
    keeps payments in memory, registers them with the hub for the simulated customer, and sends
    signed callbacks through ``hub.callbacks`` (where faults are applied).
    """

    name: ClassVar[str]

    def __init__(self, hub: SandboxHub) -> None:
        self.hub = hub
        self.lock = threading.RLock()

    @property
    def base_url(self) -> str:
        return f"{self.hub.base_url}/{self.name}"

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """Starlette routes, relative to ``/<name>``."""

    @abstractmethod
    def provider_settings(self) -> dict[str, Any]:
        """Settings that make the provider plugin talk to this emulator (test keys included)."""

    def describe(self) -> dict[str, Any]:
        """What ``GET /_sandbox`` shows about this emulator."""
        return {"base_url": self.base_url}

    def sibling_accounts(self) -> list[Emulator]:
        """Further accounts of the same provider the sandbox serves next to this one, each under
        its own ``name`` (an Omise account is one country: a Thai account next to the Singapore
        one). Their settings name the plugin (``"plugin": ...``)."""
        return []
