"""The contract of a provider emulator (entry-point group ``paymux.sandboxes``)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from ..money import Money
    from .hub import SandboxHub

CustomerAction = Literal["pay", "decline", "abandon"]
CUSTOMER_ACTIONS: tuple[CustomerAction, ...] = ("pay", "decline", "abandon")


@dataclass
class PendingPayment:
    """A payment waiting for the simulated customer; the emulator decides what each action does."""

    provider: str
    id: str
    amount: Money
    description: str
    on_action: Callable[[CustomerAction], None]
    state: str = "waiting"
    """``waiting`` until the customer acts, then the action taken."""
    details: dict[str, str] = field(default_factory=dict)
    """Shown on the customer page (method, merchant, what was asked)."""


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
