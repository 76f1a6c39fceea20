"""The facade: ``Gateway`` (sync, httpx.Client) and ``AsyncGateway`` (async, httpx.AsyncClient).

Both are stateless apart from their HTTP client: they route, run a provider's flow and return
neutral models. The same provider code serves both; what they share is in ``gateway_core``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from .errors import PaymuxError, ProviderError, WebhookParseError
from .gateway_checks import StatusFilter, check_client_options, reference_of
from .gateway_core import GatewayCore, ProviderConfig
from .models import Charge, ChargeRequest, Refund, RouteRule, WebhookEvent
from .money import Money
from .provider import ChargeListPage, ChargeQuery, Flow
from .runner import DEFAULT_TIMEOUT, RetryPolicy, arun, run

T = TypeVar("T")

__all__ = ["AsyncGateway", "Gateway", "GatewayCore", "ProviderConfig", "StatusFilter"]


class Gateway(GatewayCore):
    """Take payments through the configured providers (synchronous).

    >>> gw = Gateway(providers={"ecommpay": {"project_id": 210, "secret_key": "..."}})
    >>> charge = gw.create_charge(request)            # routed by method, country, currency, amount
    """

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        routes: Sequence[RouteRule | Mapping[str, Any]] | None = None,
        http_client: httpx.Client | None = None,
        *,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        check_client_options(http_client, httpx.Client, timeout)
        super().__init__(providers, routes, retry=retry)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=timeout or DEFAULT_TIMEOUT)

    @classmethod
    def from_config(cls, source: str | Path | Mapping[str, Any], **kwargs: Any) -> Self:
        """Build from a TOML file or a dict; ``${ENV}`` in strings is read from the environment."""
        from .config import gateway_kwargs

        # Keyword arguments win over the file (a test's http_client, a stricter retry policy).
        return cls(**{**gateway_kwargs(source), **kwargs})

    def _run(
        self,
        provider: str,
        flow: Flow[T],
        payload_error: type[PaymuxError] = ProviderError,
        *,
        operation: str | None = None,
        reference: str | None = None,
    ) -> T:
        return run(
            flow,
            self._client,
            provider=provider,
            redactor=self._redactor,
            policy=self.retry,
            payload_error=payload_error,
            operation=operation,
            reference=reference,
            request_id_of=self.provider(provider).response_request_id,
        )

    def create_charge(self, request: ChargeRequest, provider: str | None = None) -> Charge:
        """Start a payment; the charge is usually ``pending`` or ``requires_action``."""
        return self._run(
            *self._charge_flow(request, provider),
            operation="create_charge",
            reference=request.reference,
        )

    def retrieve_charge(
        self,
        charge: Charge | str,
        id_or_reference: str | None = None,
        *,
        reference: str | None = None,
    ) -> Charge:
        """Ask the provider where a charge stands: ``retrieve_charge(charge)`` or
        ``retrieve_charge("omise", "chrg_...")`` or ``retrieve_charge("omise", reference="order-1")``."""
        return self._run(
            *self._retrieve_flow(charge, id_or_reference, reference),
            operation="retrieve_charge",
            reference=reference_of(charge, reference),
        )

    def refund(
        self,
        charge: Charge,
        amount: Money | None = None,
        reason: str | None = None,
        *,
        reference: str | None = None,
    ) -> Refund:
        """Refund ``amount`` (all that is refundable when None). ``reference`` makes it idempotent."""
        return self._run(
            *self._refund_flow(charge, amount, reason, reference),
            operation="refund",
            reference=charge.reference,
        )

    def parse_webhook(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None = None
    ) -> WebhookEvent:
        """Verify and translate a callback; raises ``WebhookVerificationError`` for forgeries."""
        return self._run(
            provider,
            self._webhook_flow(provider, body, headers),
            WebhookParseError,
            operation="parse_webhook",
        )

    def clarify(self, charge: Charge, fields: Mapping[str, str]) -> Charge:
        """Send the customer details a ``ProvideInformation`` next action asked for."""
        return self._run(
            *self._clarify_flow(charge, fields),
            operation="clarify",
            reference=charge.reference,
        )

    def check_account(self, provider: str) -> dict[str, str]:
        """Ask ``provider`` whether its account matches its settings (an Omise account's country
        and currencies); :class:`~paymux.errors.ConfigurationError` names every mismatch."""
        return self._run(
            provider, self.provider(provider).check_account(), operation="check_account"
        )

    def cancel_charge(self, charge: Charge) -> Charge:
        """Stop a charge the customer has not paid (so a switch of method cannot pay twice).

        ``OperationNotSupported`` where the provider has no cancel for the charge's method."""
        return self._run(
            *self._cancel_flow(charge),
            operation="cancel_charge",
            reference=charge.reference,
        )

    def list_charges(
        self,
        provider: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        status: StatusFilter = None,
    ) -> Iterator[Charge]:
        """The provider's charges created between ``since`` and ``until`` (aware datetimes),
        oldest first, reading page after page as the iterator advances.

        Arguments are checked now, before any request; ``status`` filters by neutral status."""
        query = self._list_query(provider, since, until, status)
        return self._pages(provider, query)

    def _pages(self, provider: str, query: ChargeQuery) -> Iterator[Charge]:
        cursor: str | None = None
        while True:
            page: ChargeListPage = self._run(
                provider,
                self.provider(provider).list_charges(query, cursor),
                operation="list_charges",
            )
            yield from (c for c in page.charges if query.admits(c))
            if page.next is None or page.next == cursor:
                return
            cursor = page.next

    def list_refunds(self, charge: Charge) -> list[Refund]:
        """Every refund of ``charge`` as the provider lists it (pending, succeeded, failed)."""
        return self._run(
            *self._refunds_flow(charge),
            operation="list_refunds",
            reference=charge.reference,
        )

    def retrieve_refund(self, charge: Charge, refund_id: str) -> Refund:
        """One refund of ``charge`` by the provider's refund id; ``NotFound`` if it has none."""
        return self._run(
            *self._retrieve_refund_flow(charge, refund_id),
            operation="retrieve_refund",
            reference=charge.reference,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGateway(GatewayCore):
    """The same API as :class:`Gateway`, with ``await``."""

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        routes: Sequence[RouteRule | Mapping[str, Any]] | None = None,
        http_client: httpx.AsyncClient | None = None,
        *,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        check_client_options(http_client, httpx.AsyncClient, timeout)
        super().__init__(providers, routes, retry=retry)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout or DEFAULT_TIMEOUT)

    @classmethod
    def from_config(cls, source: str | Path | Mapping[str, Any], **kwargs: Any) -> Self:
        from .config import gateway_kwargs

        # Keyword arguments win over the file (a test's http_client, a stricter retry policy).
        return cls(**{**gateway_kwargs(source), **kwargs})

    async def _run(
        self,
        provider: str,
        flow: Flow[T],
        payload_error: type[PaymuxError] = ProviderError,
        *,
        operation: str | None = None,
        reference: str | None = None,
    ) -> T:
        return await arun(
            flow,
            self._client,
            provider=provider,
            redactor=self._redactor,
            policy=self.retry,
            payload_error=payload_error,
            operation=operation,
            reference=reference,
            request_id_of=self.provider(provider).response_request_id,
        )

    async def create_charge(self, request: ChargeRequest, provider: str | None = None) -> Charge:
        return await self._run(
            *self._charge_flow(request, provider),
            operation="create_charge",
            reference=request.reference,
        )

    async def retrieve_charge(
        self,
        charge: Charge | str,
        id_or_reference: str | None = None,
        *,
        reference: str | None = None,
    ) -> Charge:
        return await self._run(
            *self._retrieve_flow(charge, id_or_reference, reference),
            operation="retrieve_charge",
            reference=reference_of(charge, reference),
        )

    async def refund(
        self,
        charge: Charge,
        amount: Money | None = None,
        reason: str | None = None,
        *,
        reference: str | None = None,
    ) -> Refund:
        return await self._run(
            *self._refund_flow(charge, amount, reason, reference),
            operation="refund",
            reference=charge.reference,
        )

    async def parse_webhook(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None = None
    ) -> WebhookEvent:
        return await self._run(
            provider,
            self._webhook_flow(provider, body, headers),
            WebhookParseError,
            operation="parse_webhook",
        )

    async def clarify(self, charge: Charge, fields: Mapping[str, str]) -> Charge:
        return await self._run(
            *self._clarify_flow(charge, fields),
            operation="clarify",
            reference=charge.reference,
        )

    async def check_account(self, provider: str) -> dict[str, str]:
        return await self._run(
            provider, self.provider(provider).check_account(), operation="check_account"
        )

    async def cancel_charge(self, charge: Charge) -> Charge:
        return await self._run(
            *self._cancel_flow(charge),
            operation="cancel_charge",
            reference=charge.reference,
        )

    def list_charges(
        self,
        provider: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        status: StatusFilter = None,
    ) -> AsyncIterator[Charge]:
        """``async for charge in gw.list_charges(...)``; arguments are checked at the call."""
        query = self._list_query(provider, since, until, status)
        return self._pages(provider, query)

    async def _pages(self, provider: str, query: ChargeQuery) -> AsyncIterator[Charge]:
        cursor: str | None = None
        while True:
            page: ChargeListPage = await self._run(
                provider,
                self.provider(provider).list_charges(query, cursor),
                operation="list_charges",
            )
            for charge in page.charges:
                if query.admits(charge):
                    yield charge
            if page.next is None or page.next == cursor:
                return
            cursor = page.next

    async def list_refunds(self, charge: Charge) -> list[Refund]:
        return await self._run(
            *self._refunds_flow(charge),
            operation="list_refunds",
            reference=charge.reference,
        )

    async def retrieve_refund(self, charge: Charge, refund_id: str) -> Refund:
        return await self._run(
            *self._retrieve_refund_flow(charge, refund_id),
            operation="retrieve_refund",
            reference=charge.reference,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
