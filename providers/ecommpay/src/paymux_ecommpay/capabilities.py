"""What the ECommPay methods can do, as the method pages state it."""

from __future__ import annotations

from paymux.models import AmountRange, Capability, ReturnUrlRules
from paymux.status import RefundSupport

# neutral method -> the Gate's path segment (…/v2/payment/<segment>/sale)
GATE_METHODS: dict[str, str] = {
    "kakaopay": "wallet/kakaopay",
    "payco": "wallet/payco",
    "card": "card-partner",
}

# neutral method -> Payment Page ``force_payment_method`` code
PAYMENT_PAGE_METHODS: dict[str, str] = {
    "kakaopay": "kakaopay-wallet",
    "payco": "payco-wallet",
    "card": "card-partner",
}

# Gate methods whose sale the platform refuses without a ``return_url`` object.
NEEDS_RETURN_URL = frozenset({"kakaopay", "payco"})

# Every Gate sale carries the customer's IP address.
CUSTOMER_FIELDS = ("ip_address",)


def _return_urls(method: str) -> ReturnUrlRules:
    # The Gate's return_url object has a decline page, and the success page must never stand in
    # for it: whenever pages are given, one for a customer who did not pay is among them.
    return ReturnUrlRules(required=method in NEEDS_RETURN_URL, one_of=(("decline", "back"),))


def _method_from_callback(value: str) -> str:
    # Callbacks name methods as the Dashboard does: "kakaopay", "payco", "Card partner".
    return value.strip().lower().replace("-", " ")


CALLBACK_METHODS: dict[str, str] = {
    "kakaopay": "kakaopay",
    "kakaopay wallet": "kakaopay",
    "payco": "payco",
    "payco wallet": "payco",
    "card partner": "card",
}


def neutral_method(value: object) -> str | None:
    """The neutral method for a method name found in a callback or status answer."""
    if not isinstance(value, str) or not value.strip():
        return None
    key = _method_from_callback(value)
    return CALLBACK_METHODS.get(key, key)


# The Gate's status answer lists a payment's refund operations; it documents no cancel for
# these sales (cancel is for two-step card holds) and no endpoint that lists payments.
READ_OPERATIONS = ("list_refunds", "retrieve_refund")


def possible_capabilities(provider: str) -> list[Capability]:
    """What a project may be contracted for: the defaults, plus card payments in KRW.

    Card payments in won exist on projects whose contract includes them (the card-partner sale
    examples are in KRW); the method page states no limit. Off by default, enabled by the
    ``capabilities`` setting."""
    krw = AmountRange(currency="KRW", minimum=1)
    found = capabilities(provider)
    return [
        c.model_copy(update={"amounts": (*c.amounts, krw)}) if c.method == "card" else c
        for c in found
    ]


def capabilities(provider: str) -> list[Capability]:
    # KRW has no minor unit, so the minor-unit amounts below are whole won. The KakaoPay and Payco
    # pages leave the limits blank: the only rule is a positive whole amount.
    return [
        Capability(
            provider=provider,
            method="kakaopay",
            customer_fields=CUSTOMER_FIELDS,
            return_urls=_return_urls("kakaopay"),
            countries=("KR",),
            amounts=(AmountRange(currency="KRW", minimum=1),),
            refunds=RefundSupport.PARTIAL,
            next_actions=("display_qr_code",),
            operations=READ_OPERATIONS,
            provider_method="kakaopay",
            notes="QR code shown by the merchant (Gate) or the Payment Page; full/partial refunds.",
        ),
        Capability(
            provider=provider,
            method="payco",
            customer_fields=CUSTOMER_FIELDS,
            return_urls=_return_urls("payco"),
            countries=("KR",),
            amounts=(AmountRange(currency="KRW", minimum=1),),
            refunds=RefundSupport.PARTIAL,
            next_actions=("redirect_to_url",),
            operations=READ_OPERATIONS,
            provider_method="payco",
            notes="Customer is redirected to Payco; refunds full or partial.",
        ),
        Capability(
            provider=provider,
            method="card",
            customer_fields=CUSTOMER_FIELDS,
            return_urls=_return_urls("card"),
            # "Worldwide; confirm with your ECommPay account manager" per the method page.
            countries=None,
            amounts=(
                AmountRange(currency="KES", minimum=1_000, maximum=20_000_000),
                AmountRange(currency="USD", minimum=100, maximum=300_000),
            ),
            refunds=RefundSupport.FULL,
            next_actions=("redirect_to_url", "provide_information"),
            operations=READ_OPERATIONS,
            provider_method="card-partner",
            notes="Card payment through a partner (redirect); full refunds only. Send phone and"
            " e-mail, or the platform asks for them (clarification).",
        ),
    ]
