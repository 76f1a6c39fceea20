"""The facade: ``Gateway`` (sync, httpx.Client) and ``AsyncGateway`` (async, httpx.AsyncClient).

Both are stateless apart from their HTTP client: they route, run a provider's flow and return
neutral models. The same provider code serves both.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from .errors import (
    ConfigurationError,
    InvalidRequest,
    PaymuxError,
    ProviderError,
    RefundNotAllowed,
    WebhookParseError,
)
from .models import (
    Capability,
    Charge,
    ChargeRequest,
    Refund,
    RouteDecision,
    RouteRule,
    WebhookEvent,
)
from .money import Money
from .plugins import provider_class
from .provider import (
    CANCEL_CHARGE,
    LIST_CHARGES,
    LIST_REFUNDS,
    RETRIEVE_REFUND,
    ChargeListPage,
    ChargeLookup,
    ChargeQuery,
    Flow,
    Provider,
    ProviderSettings,
)
from .redaction import Redactor
from .router import Router
from .runner import DEFAULT_TIMEOUT, RetryPolicy, arun, run
from .status import ChargeStatus
from .text_rules import (
    REASON_LENGTH,
    REFUND_REFERENCE_LENGTH,
    reference_problem,
    text_problem,
)

T = TypeVar("T")
StatusFilter = ChargeStatus | str | Collection[ChargeStatus | str] | None
ProviderConfig = Mapping[str, Any] | ProviderSettings | Provider[Any]


class _Core:
    """Everything the sync and async gateways share; no IO here."""

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        routes: Sequence[RouteRule | Mapping[str, Any]] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(providers, Mapping):
            raise ConfigurationError(
                f"providers must map names to settings, got {type(providers).__name__}"
            )
        if not providers:
            raise ConfigurationError(
                "no providers configured; pass providers={'name': {...settings}}"
            )
        self._providers: dict[str, Provider[Any]] = {}
        for name, config in providers.items():
            if not isinstance(name, str) or reference_problem(name) is not None:
                # The ledger keys rows on the name (64 characters) and logs print it.
                raise ConfigurationError(
                    f"provider names must be 1-64 letters, digits and . _ : -, got {name!r:.80}"
                )
            self._providers[name] = self._build(name, config)
        if routes is not None and (
            isinstance(routes, str | bytes | Mapping) or not isinstance(routes, Sequence)
        ):
            raise ConfigurationError(
                f"routes must be a list of route rules, got {type(routes).__name__}"
            )
        rules = [
            r if isinstance(r, RouteRule) else _rule(i, r) for i, r in enumerate(routes or (), 1)
        ]
        self._router = Router(self._providers, rules)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        self.retry = retry or RetryPolicy()
        secrets = [s for p in self._providers.values() for s in p.secret_values()]
        self._redactor = Redactor(secrets)

    @staticmethod
    def _build(name: str, config: ProviderConfig) -> Provider[Any]:
        if isinstance(config, Provider):
            return config
        if isinstance(config, ProviderSettings):
            return provider_class(name).configure(config, name=name)
        if not isinstance(config, Mapping):
            raise ConfigurationError(
                f"{name}: settings must be a mapping, got {type(config).__name__}"
            )
        settings = dict(config)
        plugin = settings.pop("plugin", name)
        return provider_class(str(plugin)).configure(settings, name=name)

    # -- no IO -----------------------------------------------------------------------------

    def provider(self, name: str) -> Provider[Any]:
        if not isinstance(name, str):
            raise InvalidRequest(
                f"expected a provider name, got {type(name).__name__}", field="provider"
            )
        try:
            return self._providers[name]
        except KeyError:
            raise ConfigurationError(
                f"provider {name!r} is not configured on this gateway (configured:"
                f" {', '.join(self._providers)})"
            ) from None

    @property
    def providers(self) -> list[str]:
        return list(self._providers)

    def capabilities(self) -> list[Capability]:
        return [c for p in self._providers.values() for c in p.declared_capabilities()]

    def route(self, request: ChargeRequest) -> RouteDecision:
        return self._router.decide(_checked(request, ChargeRequest, "request"))

    def describe(self) -> dict[str, dict[str, str]]:
        return {name: p.describe() for name, p in self._providers.items()}

    # -- flows -----------------------------------------------------------------------------

    def _charge_flow(
        self, request: ChargeRequest, provider: str | None
    ) -> tuple[str, Flow[Charge]]:
        request = _checked(request, ChargeRequest, "request")
        if provider is None:
            name = self._router.choose(request)
        else:
            # An explicit choice skips routing, not the capability check.
            name = provider
            self.provider(name).check_capability(request)
        return name, _with_metadata(self.provider(name).create_charge(request), request.metadata)

    def _retrieve_flow(
        self, target: Charge | str, id_or_reference: str | None, reference: str | None
    ) -> tuple[str, Flow[Charge]]:
        if isinstance(target, Charge):
            lookup = ChargeLookup(charge_id=target.id, reference=target.reference, charge=target)
            name = target.provider
        elif isinstance(target, str):
            name = target
            if reference is not None:
                _check_reference(reference, "reference")
                lookup = ChargeLookup(reference=reference)
            elif id_or_reference:
                # Providers read the string (prefixes, paths): anything else would crash there,
                # and a "/" or "?" would point the request at another endpoint.
                _check_reference(id_or_reference, "id_or_reference", 255)
                lookup = self.provider(name).lookup(id_or_reference)
            else:
                raise InvalidRequest("give a charge id or reference=...", field="id_or_reference")
        else:
            raise InvalidRequest(
                f"expected a Charge or a provider name, got {type(target).__name__}",
                field="charge",
            )
        flow = self.provider(name).retrieve_charge(lookup)
        if isinstance(target, Charge) and target.metadata:
            # A provider that stores no metadata (ECommPay) answers without it: keep the caller's.
            flow = _with_metadata(flow, target.metadata)
        return name, flow

    def _refund_flow(
        self, charge: Charge, amount: Money | None, reason: str | None, reference: str | None
    ) -> tuple[str, Flow[Refund]]:
        charge = _checked(charge, Charge, "charge")
        provider = self.provider(charge.provider)
        if not charge.status.is_paid:
            raise RefundNotAllowed(
                f"charge {charge.id} is {charge.status.value}; only paid charges can be refunded"
            )
        refundable = charge.refundable_amount
        if amount is None:
            amount = refundable
        amount = _checked(amount, Money, "amount")
        if amount.currency != charge.amount.currency:
            raise InvalidRequest(
                f"refund in {amount.currency} for a {charge.amount.currency} charge", field="amount"
            )
        if amount.amount == 0:
            raise RefundNotAllowed(f"nothing left to refund on charge {charge.id}")
        if amount > refundable:
            raise RefundNotAllowed(
                f"{amount} is more than the {refundable} still refundable on charge {charge.id}"
            )
        if reason is not None:
            if not isinstance(reason, str):
                raise InvalidRequest("must be a string", field="reason")
            # The ledger stores it in a 255-character column; providers show it to people.
            problem = text_problem(reason, REASON_LENGTH)
            if problem is not None:
                raise InvalidRequest(problem, field="reason")
        if reference is not None:
            # It becomes the provider's refund id and the ledger's unique key.
            _check_reference(reference, "reference", REFUND_REFERENCE_LENGTH)
        reference = reference or f"{charge.reference or charge.id}-r{uuid.uuid4().hex[:10]}"
        return charge.provider, provider.refund(charge, amount, reason=reason, reference=reference)

    # -- after the charge -------------------------------------------------------------------

    def _operation(self, charge: Charge, operation: str) -> Provider[Any]:
        charge = _checked(charge, Charge, "charge")
        provider = self.provider(charge.provider)
        provider.check_operation(operation, charge.method)
        return provider

    def _cancel_flow(self, charge: Charge) -> tuple[str, Flow[Charge]]:
        provider = self._operation(charge, CANCEL_CHARGE)
        if charge.status.is_final:
            raise InvalidRequest(
                f"charge {charge.id} is {charge.status.value}; only an unpaid open charge can be"
                " canceled (refund a paid one)",
                field="charge",
            )
        return charge.provider, provider.cancel_charge(charge)

    def _list_query(
        self, provider: str, since: datetime | None, until: datetime | None, status: StatusFilter
    ) -> ChargeQuery:
        self.provider(provider).check_operation(LIST_CHARGES)
        for name, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidRequest(
                    "must be a datetime with a time zone (e.g. datetime.now(UTC))", field=name
                )
            if value is not None and not _in_utc_range(value):
                raise InvalidRequest("is outside the years 1-9999 in UTC", field=name)
        if since is not None and until is not None and until < since:
            raise InvalidRequest("is before since", field="until")
        return ChargeQuery(since=since, until=until, statuses=_statuses(status))

    def _refunds_flow(self, charge: Charge) -> tuple[str, Flow[list[Refund]]]:
        provider = self._operation(charge, LIST_REFUNDS)
        return charge.provider, provider.list_refunds(charge)

    def _retrieve_refund_flow(self, charge: Charge, refund_id: str) -> tuple[str, Flow[Refund]]:
        provider = self._operation(charge, RETRIEVE_REFUND)
        _check_reference(refund_id, "refund_id", 255)
        return charge.provider, provider.retrieve_refund(charge, refund_id)

    def _webhook_flow(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None
    ) -> Flow[WebhookEvent]:
        if isinstance(body, str):
            try:
                body = body.encode()
            except UnicodeEncodeError:
                # Lone surrogates: no provider sent this text; pass the raw bytes instead.
                raise InvalidRequest(
                    "the body is text that cannot be encoded as UTF-8; pass the raw bytes",
                    field="body",
                ) from None
        if not isinstance(body, bytes | bytearray):
            raise InvalidRequest("the raw request body must be bytes", field="body")
        if headers is not None and not isinstance(headers, Mapping):
            raise InvalidRequest(
                f"expected a mapping of header names to values, got {type(headers).__name__}",
                field="headers",
            )
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        return self.provider(provider).parse_webhook(bytes(body), lowered)

    def _clarify_flow(self, charge: Charge, fields: Mapping[str, str]) -> tuple[str, Flow[Charge]]:
        charge = _checked(charge, Charge, "charge")
        if not isinstance(fields, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise InvalidRequest("must map field names to string values", field="fields")
        for key, value in fields.items():
            problem = text_problem(key, 64) or text_problem(value, 255)
            if problem is not None:
                raise InvalidRequest(f"{key[:64]!r} {problem}", field="fields")
        return charge.provider, self.provider(charge.provider).clarify(charge, fields)


def _with_metadata(flow: Flow[Charge], metadata: Mapping[str, str]) -> Flow[Charge]:
    """``flow``, with ``metadata`` on the answer when the provider keeps none."""
    charge = yield from flow
    if metadata and not charge.metadata:
        return charge.model_copy(update={"metadata": dict(metadata)})
    return charge


def _in_utc_range(value: datetime) -> bool:
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _statuses(status: StatusFilter) -> frozenset[ChargeStatus] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, ChargeStatus | str) else status
    if not isinstance(items, Collection):
        raise InvalidRequest(
            f"expected a ChargeStatus or a collection of them, got {type(status).__name__}",
            field="status",
        )
    found = set()
    for item in items:
        try:
            found.add(ChargeStatus(item))
        except ValueError:
            known = ", ".join(s.value for s in ChargeStatus)
            raise InvalidRequest(
                f"{item!r:.40} is not a charge status ({known})", field="status"
            ) from None
    if not found:
        raise InvalidRequest("give at least one status, or None for all", field="status")
    return frozenset(found)


def _rule(index: int, raw: Mapping[str, Any]) -> RouteRule:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"route rule #{index}: expected a RouteRule or a mapping, got {type(raw).__name__}"
        )
    if not all(isinstance(key, str) for key in raw):
        raise ConfigurationError(f"route rule #{index}: field names must be text")
    try:
        return RouteRule(**dict(raw))
    except InvalidRequest as exc:
        raise ConfigurationError(f"route rule #{index}: {exc}") from None


def _reference(target: Charge | str, reference: str | None) -> str | None:
    """The merchant's reference a look-up concerns, for logs and spans."""
    return target.reference if isinstance(target, Charge) else reference


def _check_reference(value: Any, field: str, max_length: int = 64) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"expected text, got {type(value).__name__}", field=field)
    problem = reference_problem(value, max_length)
    if problem is not None:
        raise InvalidRequest(problem, field=field)


def _client_options(client: Any, kind: type[Any], timeout: Any) -> None:
    if client is not None and not isinstance(client, kind):
        raise ConfigurationError(
            f"http_client must be an {kind.__module__}.{kind.__name__}, got {type(client).__name__}"
        )
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds")


def _checked(value: Any, kind: type[T], field: str) -> T:
    if not isinstance(value, kind):
        raise InvalidRequest(f"expected {kind.__name__}, got {type(value).__name__}", field=field)
    return value


class Gateway(_Core):
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
        _client_options(http_client, httpx.Client, timeout)
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
        unexpected: type[PaymuxError] = ProviderError,
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
            unexpected=unexpected,
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
            reference=_reference(charge, reference),
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


class AsyncGateway(_Core):
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
        _client_options(http_client, httpx.AsyncClient, timeout)
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
        unexpected: type[PaymuxError] = ProviderError,
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
            unexpected=unexpected,
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
            reference=_reference(charge, reference),
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
