"""What the sandbox's hub and its emulators both speak of: a payment waiting for the simulated
customer, the customer's actions, and an emulator as the hub sees it.

Kept apart from ``emulator`` (the base class, which knows the hub) so the hub can name these
without knowing the emulators: the dependency runs one way, emulator -> hub -> these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..money import Money

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


class MountedEmulator(Protocol):
    """An emulator as the hub knows it: mounted under its name, described on ``/_sandbox``."""

    @property
    def base_url(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...
