"""A merchant's contract, applied to what a plugin declares: the ``capabilities`` setting.

::

    [providers.ecommpay]
    project_id = 210
    secret_key = "${ECOMMPAY_SECRET_KEY}"

    [[providers.ecommpay.capabilities]]      # card payments in KRW: this project has them
    method = "card"
    countries = ["KR"]
    amounts = [{ currency = "KRW", minimum = 1000, maximum = 2000000 }]

    [[providers.ecommpay.capabilities]]      # no Payco on this contract
    method = "payco"
    enabled = false

Each entry names one method. Fields it gives replace the plugin's (countries, amounts, refunds);
fields it leaves out stay as declared. A method the plugin can offer but does not by default is
enabled by naming it. Nothing may go beyond what the plugin *can* do
(:meth:`~paymux.provider.Provider.possible_capabilities`): such an entry is a
``ConfigurationError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from ._base import Model
from .countries import is_country
from .errors import ConfigurationError, InvalidRequest
from .models import AmountRange, Capability
from .status import RefundSupport

SETTING = "capabilities"
"""The provider setting that holds the overrides (a list of tables, one per method)."""

_REFUND_ORDER = (RefundSupport.NONE, RefundSupport.FULL, RefundSupport.PARTIAL)


class CapabilityOverride(Model):
    """One entry of a provider's ``capabilities`` setting."""

    method: str = Field(min_length=1, max_length=64)
    enabled: bool = True
    countries: tuple[str, ...] | None = None
    amounts: tuple[AmountRange, ...] | None = Field(default=None, min_length=1)
    refunds: RefundSupport | None = None

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("give at least one country, or enabled = false")
            for code in value:
                if not (code.isascii() and is_country(code)):
                    raise ValueError(f"{code!r:.12} is not an ISO 3166-1 alpha-2 code such as 'KR'")
        return value


def apply_overrides(
    provider: str,
    declared: Sequence[Capability],
    possible: Sequence[Capability],
    raw: Any,
) -> tuple[Capability, ...]:
    """``declared`` with the ``capabilities`` setting ``raw`` applied, each changed capability
    marked ``origin="config"``."""
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise ConfigurationError(
            f"{provider}: {SETTING} must be a list of tables (one per method),"
            f" got {type(raw).__name__}"
        )
    result = {c.method: c for c in declared}
    can = {c.method: c for c in possible}
    seen: set[str] = set()
    for index, entry in enumerate(raw, 1):
        where = f"{provider}: {SETTING}[{index}]"
        override = _parse(entry, where)
        if override.method in seen:
            raise ConfigurationError(f"{where}: method {override.method!r} is named twice")
        seen.add(override.method)
        limit = can.get(override.method)
        if limit is None:
            raise ConfigurationError(
                f"{where}: the plugin cannot offer {override.method!r}"
                f" (it can: {', '.join(can) or 'nothing'})"
            )
        if not override.enabled:
            result.pop(override.method, None)
            continue
        base = result.get(override.method, limit)
        result[override.method] = _narrowed(base, limit, override, where)
    return tuple(result.values())


def _parse(entry: Any, where: str) -> CapabilityOverride:
    if not isinstance(entry, Mapping) or not all(isinstance(k, str) for k in entry):
        raise ConfigurationError(f"{where}: expected a table such as {{method = 'card', ...}}")
    try:
        return CapabilityOverride(**dict(entry))
    except InvalidRequest as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _narrowed(
    base: Capability, limit: Capability, override: CapabilityOverride, where: str
) -> Capability:
    countries = base.countries if override.countries is None else override.countries
    if countries is not None and limit.countries is not None:
        outside = [c for c in countries if c not in limit.countries]
        if outside:
            raise ConfigurationError(
                f"{where}: {override.method} cannot be offered in {', '.join(outside)}"
                f" (the plugin can: {', '.join(limit.countries)})"
            )
    amounts = base.amounts if override.amounts is None else override.amounts
    for wanted in amounts:
        if not any(_within(wanted, allowed) for allowed in limit.amounts):
            allowed = "; ".join(str(r) for r in limit.amounts)
            raise ConfigurationError(
                f"{where}: {override.method} cannot take {wanted} (the plugin can take: {allowed})"
            )
    refunds = base.refunds if override.refunds is None else override.refunds
    if _REFUND_ORDER.index(refunds) > _REFUND_ORDER.index(limit.refunds):
        raise ConfigurationError(
            f"{where}: {override.method} refunds cannot be {refunds.value}"
            f" (the plugin can: {limit.refunds.value})"
        )
    try:
        return Capability(
            **{
                **dict(base),
                "countries": countries,
                "amounts": amounts,
                "refunds": refunds,
                "origin": "config",
            }
        )
    except InvalidRequest as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _within(wanted: AmountRange, allowed: AmountRange) -> bool:
    if wanted.currency != allowed.currency or wanted.minimum < allowed.minimum:
        return False
    if allowed.maximum is not None and (wanted.maximum is None or wanted.maximum > allowed.maximum):
        return False
    if wanted.maximum is not None and wanted.maximum < wanted.minimum:
        return False
    if allowed.countries is None:
        return True
    return wanted.countries is not None and set(wanted.countries) <= set(allowed.countries)
