"""What ``Gateway`` and ``AsyncGateway`` share: configuration, routing and each operation's flow.

The gateways differ only in how they run a flow (sync or async client); everything decided before
the first request lives here, so both check arguments and pick providers the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

from .capability_checks import refund_amount
from .errors import ConfigurationError, InvalidRequest
from .gateway_checks import (
    StatusFilter,
    check_reference,
    checked,
    in_utc_range,
    route_rule,
    statuses,
    with_metadata,
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
    ChargeLookup,
    ChargeQuery,
    Flow,
    Provider,
    ProviderSettings,
)
from .redaction import Redactor
from .router import Router
from .runner import RetryPolicy
from .text_rules import REASON_LENGTH, REFUND_REFERENCE_LENGTH, reference_problem, text_problem

T = TypeVar("T")
ProviderConfig = Mapping[str, Any] | ProviderSettings | Provider[Any]


class ProviderFlow(NamedTuple, Generic[T]):
    """A flow and the name of the configured provider it talks to (what the runner needs)."""

    provider: str
    flow: Flow[T]


class GatewayCore:
    """Everything the sync and async gateways share: settings, routing, argument checks and the
    provider flow for each operation. No IO here; the gateways run the flows."""

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
            r if isinstance(r, RouteRule) else route_rule(i, r)
            for i, r in enumerate(routes or (), 1)
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
        return self._router.decide(checked(request, ChargeRequest, "request"))

    def describe(self) -> dict[str, dict[str, str]]:
        return {name: p.describe() for name, p in self._providers.items()}

    # -- flows -----------------------------------------------------------------------------

    def _charge_flow(self, request: ChargeRequest, provider: str | None) -> ProviderFlow[Charge]:
        request = checked(request, ChargeRequest, "request")
        if provider is None:
            name = self._router.choose(request)
        else:
            # An explicit choice skips routing, not the capability check.
            name = provider
            self.provider(name).check_capability(request)
        flow = self.provider(name).create_charge(request)
        # Without metadata there is nothing to carry over: no wrapper around every step.
        return ProviderFlow(
            name, with_metadata(flow, request.metadata) if request.metadata else flow
        )

    def _retrieve_flow(
        self, target: Charge | str, id_or_reference: str | None, reference: str | None
    ) -> ProviderFlow[Charge]:
        if isinstance(target, Charge):
            lookup = ChargeLookup(charge_id=target.id, reference=target.reference, charge=target)
            name = target.provider
        elif isinstance(target, str):
            name = target
            if reference is not None:
                check_reference(reference, "reference")
                lookup = ChargeLookup(reference=reference)
            elif id_or_reference:
                # Providers read the string (prefixes, paths): anything else would crash there,
                # and a "/" or "?" would point the request at another endpoint.
                check_reference(id_or_reference, "id_or_reference", 255)
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
            flow = with_metadata(flow, target.metadata)
        return ProviderFlow(name, flow)

    def _refund_flow(
        self, charge: Charge, amount: Money | None, reason: str | None, reference: str | None
    ) -> ProviderFlow[Refund]:
        charge = checked(charge, Charge, "charge")
        provider = self.provider(charge.provider)
        # The rules the plugin's refund flow checks too (same function): this refusal comes
        # before the reason and reference are looked at, and the default amount is resolved.
        amount = refund_amount(
            charge,
            amount,
            provider.capability_for(charge.method) if charge.method else None,
            provider=provider.name,
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
            check_reference(reference, "reference", REFUND_REFERENCE_LENGTH)
        reference = reference or f"{charge.reference or charge.id}-r{uuid.uuid4().hex[:10]}"
        return ProviderFlow(
            charge.provider, provider.refund(charge, amount, reason=reason, reference=reference)
        )

    # -- after the charge -------------------------------------------------------------------

    def _operation(self, charge: Charge, operation: str) -> Provider[Any]:
        charge = checked(charge, Charge, "charge")
        provider = self.provider(charge.provider)
        provider.check_operation(operation, charge.method)
        return provider

    def _cancel_flow(self, charge: Charge) -> ProviderFlow[Charge]:
        provider = self._operation(charge, CANCEL_CHARGE)
        if charge.status.is_final:
            raise InvalidRequest(
                f"charge {charge.id} is {charge.status.value}; only an unpaid open charge can be"
                " canceled (refund a paid one)",
                field="charge",
            )
        return ProviderFlow(charge.provider, provider.cancel_charge(charge))

    def _list_query(
        self, provider: str, since: datetime | None, until: datetime | None, status: StatusFilter
    ) -> ChargeQuery:
        self.provider(provider).check_operation(LIST_CHARGES)
        for name, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidRequest(
                    "must be a datetime with a time zone (e.g. datetime.now(UTC))", field=name
                )
            if value is not None and not in_utc_range(value):
                raise InvalidRequest("is outside the years 1-9999 in UTC", field=name)
        if since is not None and until is not None and until < since:
            raise InvalidRequest("is before since", field="until")
        return ChargeQuery(since=since, until=until, statuses=statuses(status))

    def _refunds_flow(self, charge: Charge) -> ProviderFlow[list[Refund]]:
        provider = self._operation(charge, LIST_REFUNDS)
        return ProviderFlow(charge.provider, provider.list_refunds(charge))

    def _retrieve_refund_flow(self, charge: Charge, refund_id: str) -> ProviderFlow[Refund]:
        provider = self._operation(charge, RETRIEVE_REFUND)
        check_reference(refund_id, "refund_id", 255)
        return ProviderFlow(charge.provider, provider.retrieve_refund(charge, refund_id))

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

    def _clarify_flow(self, charge: Charge, fields: Mapping[str, str]) -> ProviderFlow[Charge]:
        charge = checked(charge, Charge, "charge")
        if not isinstance(fields, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise InvalidRequest("must map field names to string values", field="fields")
        for key, value in fields.items():
            problem = text_problem(key, 64) or text_problem(value, 255)
            if problem is not None:
                raise InvalidRequest(f"{key[:64]!r} {problem}", field="fields")
        return ProviderFlow(charge.provider, self.provider(charge.provider).clarify(charge, fields))
