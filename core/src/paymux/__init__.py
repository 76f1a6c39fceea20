"""paymux: one typed API for payments through several providers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from ._version import __version__
from .event_types import EventType
from .models import (
    AmountRange,
    Capability,
    Charge,
    ChargeRequest,
    Customer,
    Failure,
    Refund,
    ReturnUrlRules,
    ReturnUrls,
    RouteDecision,
    RouteRule,
    WebhookEvent,
)
from .money import Money
from .next_action import DisplayQrCode, NextAction, ProvideInformation, RedirectToUrl, RequiredField
from .references import attempt_reference
from .status import ChargeStatus, FailureReason, RefundStatus, RefundSupport

if TYPE_CHECKING:
    from .gateway import AsyncGateway, Gateway
    from .ledger import AsyncLedger, Ledger
    from .plugins import available_providers

# Loaded on first use so that `import paymux` stays cheap (no stevedore, tenacity or SQLAlchemy).
_LAZY = {
    "Gateway": "gateway",
    "AsyncGateway": "gateway",
    "Ledger": "ledger",
    "AsyncLedger": "ledger",
    "available_providers": "plugins",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paymux' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AmountRange",
    "AsyncGateway",
    "AsyncLedger",
    "Capability",
    "Charge",
    "ChargeRequest",
    "ChargeStatus",
    "Customer",
    "DisplayQrCode",
    "EventType",
    "Failure",
    "FailureReason",
    "Gateway",
    "Ledger",
    "Money",
    "NextAction",
    "ProvideInformation",
    "RedirectToUrl",
    "Refund",
    "RefundStatus",
    "RefundSupport",
    "RequiredField",
    "ReturnUrlRules",
    "ReturnUrls",
    "RouteDecision",
    "RouteRule",
    "WebhookEvent",
    "__version__",
    "attempt_reference",
    "available_providers",
    "errors",
]
