"""What Template Pay takes, as data: the router, the flows and the docs all read this."""

from __future__ import annotations

from paymux import AmountRange, Capability, RefundSupport
from paymux.models import ReturnUrlRules

METHOD = "wallet"


def capabilities(provider: str) -> list[Capability]:
    return [
        Capability(
            provider=provider,
            method=METHOD,
            countries=("NL", "BE"),
            amounts=(AmountRange(currency="EUR", minimum=100, maximum=500_000),),
            refunds=RefundSupport.PARTIAL,
            next_actions=("redirect_to_url",),
            provider_method="wallet",
            # The customer pays on Template Pay's page and comes back: it needs somewhere to
            # return to, over HTTPS.
            return_urls=ReturnUrlRules(required=True, https=("success",)),
            operations=("list_refunds",),
        )
    ]
