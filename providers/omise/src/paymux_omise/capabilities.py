"""What one Omise account offers through paymux, as data.

An Omise account belongs to one country and charges in that country's currency only (a recorded
``GET /capability`` answer of a Thai account: ``country: "TH"``, KakaoPay ``currencies: ["THB"]``,
PromptPay ``currencies: ["THB"]``). So when the settings state the country, every capability names
it alone, and two accounts (one per market) route by country without rules. When they do not, the
account may be of either market: both are declared, each currency tied to its own country, so the
router still refuses what no Omise account takes (KakaoPay in THB in Singapore).

Sources of the figures: seed 004 (Opn's KakaoPay page) for KakaoPay; Omise's PromptPay and PayNow
pages (docs.omise.co/promptpay, docs.omise.co/paynow: Thailand only / Singapore only, offline flow,
a QR code the customer scans with a banking app) and a recorded Thai ``GET /capability``; Omise's
refunds page (docs.omise.co/refunding-charges) for the refund rules every Omise charge shares.
Each PromptPay/PayNow figure says next to it whether it is confirmed; those that are not are
marked so in docs/providers/omise.md too.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from functools import cache

from paymux import AmountRange, Capability, RefundSupport
from paymux.models import ReturnUrlRules

KAKAOPAY = "kakaopay"
PROMPTPAY = "promptpay"
PAYNOW = "paynow"

CURRENCY_BY_COUNTRY: dict[str, str] = {"SG": "SGD", "TH": "THB"}
"""The one currency an Omise account of each country charges in."""

METHODS_BY_COUNTRY: dict[str, tuple[str, ...]] = {
    "SG": (KAKAOPAY, PAYNOW),
    "TH": (KAKAOPAY, PROMPTPAY),
}

QR_METHODS = frozenset({PROMPTPAY, PAYNOW})
"""Offline sources: the charge carries ``source.scannable_code``, a QR image to show; the
customer never leaves the checkout, so no return URL is needed (none is sent)."""


@cache
def _limits() -> dict[tuple[str, str], AmountRange]:
    """Built on first use: the first ``AmountRange`` builds its schema and loads the ISO 4217
    table, which would otherwise be most of the cost of importing this plugin."""
    return {
        # Seed 004: SGD 1.00 .. 20,000.00 in Singapore, THB 20.00 .. 150,000.00 in Thailand.
        (KAKAOPAY, "SGD"): AmountRange(currency="SGD", minimum=100, maximum=2_000_000),
        (KAKAOPAY, "THB"): AmountRange(currency="THB", minimum=2_000, maximum=15_000_000),
        # PromptPay (docs/providers/omise.md marks each figure confirmed or not):
        # - THB only, Thai accounts only: confirmed (docs.omise.co/promptpay "Supported
        #   Countries: Thailand"; the recorded GET /capability of a Thai account lists promptpay
        #   with currencies ["THB"], tests/omise/data/official/php-capability-get.json).
        # - minimum THB 20.00: the Thai account's charge minimum in that same recording
        #   (limits.charge_amount.min 2000); Omise's page states no PromptPay minimum of its own
        #   in the part readable here.
        # - maximum THB 150,000.00: NOT confirmed by Omise; the cap Worldline publishes for
        #   PromptPay through its Thai partner Omise (docs.connect.worldline-solutions.com/
        #   payment-product/promptpay/additional-information).
        (PROMPTPAY, "THB"): AmountRange(currency="THB", minimum=2_000, maximum=15_000_000),
        # PayNow: SGD only, Singapore accounts only: confirmed (docs.omise.co/paynow "Supported
        # Countries: Singapore"). Minimum SGD 1.00: NOT confirmed (no recorded Singapore
        # /capability; taken as KakaoPay's Singapore minimum, seed 004). Maximum SGD 200,000.00:
        # NOT confirmed by Omise; the scheme's per-payment cap as another acquirer publishes it
        # (docs.antom.com/ac/antomop/paynow).
        (PAYNOW, "SGD"): AmountRange(currency="SGD", minimum=100, maximum=20_000_000),
    }


def limits(method: str, currency: str) -> AmountRange | None:
    return _limits().get((method, currency))


PLATFORM_TYPES = ("WEB", "IOS", "ANDROID")

# "KakaoPay payments can be refunded until 00:15 (GMT+8) of the next day" (seed 004).
REFUND_WINDOW_ZONE = timezone(timedelta(hours=8), "GMT+8")
REFUND_WINDOW_CLOSES = time(0, 15)

# Source types whose refunds close with the same next-day window.
REFUND_WINDOW_METHODS = frozenset({KAKAOPAY})

# A charge can be refunded while captured for no longer than 365 days, up to 15 refunds a
# charge (docs.omise.co/refunding-charges, Omise's rule for every charge). PayNow refunds:
# Omise's own WooCommerce plugin offers them (omise/omise-woocommerce pull request 202, "online
# refunds in paynow"; its PayNow gateway declares 'refunds'), partial as the Refunds API's
# required ``amount`` allows. PromptPay refunds: NOT confirmed (that plugin's
# PromptPay gateway offers none); declared like PayNow's, and Omise's own word on each charge
# (``refundable``, ``partially_refundable``) is obeyed before any request.
REFUND_DAYS = 365
MAX_REFUNDS = 15

_OPERATIONS = ("cancel_charge", "list_charges", "list_refunds", "retrieve_refund")
"""POST /charges/{id}/expire stops an unpaid app-redirect or QR charge (omise.md); GET /charges,
GET /charges/{id}/refunds and /refunds/{id} read (charges-api)."""

_NOTES = {
    KAKAOPAY: (
        "app_redirect: the authorize URL opens the KakaoPay app on mobile and shows Opn's QR page"
        " on desktop; refunds until 00:15 GMT+8 the day after payment"
    ),
    PROMPTPAY: (
        "offline: a PromptPay QR code (a PNG from Omise) the customer scans with a Thai banking"
        " app; refunds within 365 days"
    ),
    PAYNOW: (
        "offline: a PayNow QR code (a PNG from Omise) the customer scans with a Singapore banking"
        " app; refunds within 365 days"
    ),
}


def _markets(method: str, countries: tuple[str, ...]) -> tuple[AmountRange, ...]:
    """``method``'s limits in each of ``countries`` that offers it; with several countries, each
    range tied to its own (KakaoPay is SGD in Singapore and THB in Thailand, never the reverse)."""
    found = []
    for country in countries:
        if method not in METHODS_BY_COUNTRY[country]:
            continue
        amounts = limits(method, CURRENCY_BY_COUNTRY[country])
        assert amounts is not None  # every method of a country has limits in its currency
        found.append(
            amounts if len(countries) == 1 else amounts.model_copy(update={"countries": (country,)})
        )
    return tuple(found)


def capabilities(provider: str, country: str | None) -> list[Capability]:
    """What an account of ``country`` offers: its methods, in its currency, in its country only.

    ``country`` None (not stated): every market's methods, each in its own market's currency."""
    countries = tuple(CURRENCY_BY_COUNTRY) if country is None else (country,)
    methods = dict.fromkeys(m for c in countries for m in METHODS_BY_COUNTRY[c])
    found = []
    for method in methods:
        amounts = _markets(method, countries)
        qr = method in QR_METHODS
        found.append(
            Capability(
                provider=provider,
                method=method,
                countries=tuple(c for c in countries if method in METHODS_BY_COUNTRY[c]),
                amounts=amounts,
                refunds=RefundSupport.PARTIAL,
                next_actions=("display_qr_code",) if qr else ("redirect_to_url",),
                provider_method=method,
                operations=_OPERATIONS,
                notes=_NOTES[method],
                # KakaoPay leaves the checkout for the wallet app and comes back to an HTTPS
                # return_uri (seed 004); a QR charge keeps the customer on the checkout page.
                return_urls=ReturnUrlRules()
                if qr
                else ReturnUrlRules(required=True, https=("success",)),
            )
        )
    return found


def refund_deadline(method: str | None, paid_at: datetime | None) -> datetime | None:
    """The last moment Omise refunds a payment of ``method`` made at ``paid_at``, if limited."""
    if paid_at is None:
        return None
    if method in REFUND_WINDOW_METHODS:
        local_day = paid_at.astimezone(REFUND_WINDOW_ZONE).date()
        return datetime.combine(
            local_day + timedelta(days=1), REFUND_WINDOW_CLOSES, REFUND_WINDOW_ZONE
        )
    if method in QR_METHODS:
        return paid_at + timedelta(days=REFUND_DAYS)
    return None
