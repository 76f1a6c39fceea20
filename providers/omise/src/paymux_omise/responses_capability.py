"""``GET /capability`` read against the provider's settings (``OmiseProvider.check_account``).

The recorded answer (omise-php and omise-woocommerce fixtures, a Thai test account) is
``{"object": "capability", "country": "TH", "payment_methods": [{"object": "payment_method",
"name": "kakaopay", "currencies": ["THB"], ...}, ...], ...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .capabilities import CURRENCY_BY_COUNTRY
from .responses import PayloadError, expect_object, text


def _offered(payload: Any) -> dict[str, tuple[str, ...]]:
    """Payment method name -> the currencies the account takes it in."""
    methods = payload.get("payment_methods")
    if not isinstance(methods, list):
        raise PayloadError("'payment_methods' is not a list")
    offered: dict[str, tuple[str, ...]] = {}
    for item in methods:
        if not isinstance(item, dict):
            raise PayloadError("a payment method is not an object")
        currencies = item.get("currencies")
        if not isinstance(currencies, list) or not all(isinstance(c, str) for c in currencies):
            raise PayloadError(f"payment method {item.get('name')!r} has no 'currencies' list")
        offered[text(item, "name")] = tuple(c.upper() for c in currencies)
    return offered


def account_country(payload: Any) -> str:
    """The country ``GET /capability`` reports for the account (upper case)."""
    return text(expect_object(payload, "capability"), "country").upper()


def account_mismatches(payload: Any, country: str | None, methods: Sequence[str]) -> list[str]:
    """Every way the account differs from settings of ``country`` offering ``methods``.

    ``country`` None (not stated): the account's own country is taken, and ``methods`` are
    those the settings declare for it."""
    data = expect_object(payload, "capability")
    actual = account_country(data)
    if country is not None and actual != country:
        # Everything else follows from the country: one mismatch, stated once.
        return [f"it is a {actual} account, the settings say country = {country!r}"]
    if actual not in CURRENCY_BY_COUNTRY:
        return [
            f"it is a {actual} account; paymux's Omise provider charges with"
            f" {' and '.join(CURRENCY_BY_COUNTRY)} accounts only"
        ]
    currency = CURRENCY_BY_COUNTRY[actual]
    offered = _offered(data)
    problems = []
    for method in methods:
        currencies = offered.get(method)
        if currencies is None:
            problems.append(f"it does not offer {method} (ask Omise to enable it)")
        elif currency not in currencies:
            problems.append(
                f"it takes {method} in {', '.join(currencies) or 'no currency'}, not {currency}"
            )
    return problems
