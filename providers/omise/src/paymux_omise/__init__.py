"""Omise / Opn Payments for paymux: KakaoPay in Singapore (SGD) and Thailand (THB), PayNow (SG)
and PromptPay (TH); one provider per Omise account, each of one country (its ``country`` setting;
left out, both markets are declared, each in its own currency)."""

from __future__ import annotations

from ._version import __version__
from .provider import OmiseProvider
from .settings import OmiseSettings

__all__ = ["OmiseProvider", "OmiseSettings", "__version__"]
