"""The contract between the core and a provider plugin.

A provider is *sans-IO*: every operation is a generator (a :data:`Flow`) that yields the
``httpx.Request`` it wants sent, receives the ``httpx.Response``, and finally returns a neutral model.
The gateways own sockets, timeouts, retries and logging, so one provider serves sync and async code,
cassettes and the emulators alike::

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        response = yield self.request("GET", f"/charges/{lookup.charge_id}", retry_safe=True)
        return self.to_charge(response.json())
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ._base import Model
from .capability_checks import CHECKED, check_charge, refund_amount
from .capability_overrides import SETTING as CAPABILITIES_SETTING
from .capability_overrides import apply_overrides
from .errors import (
    ConfigurationError,
    InvalidRequest,
    NotFound,
    OperationNotSupported,
    ProviderError,
    WebhookParseError,
    WebhookVerificationError,
)
from .models import Capability, Charge, ChargeRequest, Refund, WebhookEvent
from .money import Money
from .payload import PayloadError
from .status import ChargeStatus
from .telemetry import header_request_id

T = TypeVar("T")
Flow = Generator[httpx.Request, httpx.Response, T]
"""A provider operation: yields requests, receives responses, returns the result."""


def no_io(compute: Callable[[], T]) -> Flow[T]:
    """A flow that sends nothing: ``compute()``'s value, or its exception, once it is driven.

    For an operation that needs no request (a refusal, a signature check, an answer already at
    hand), e.g. ``return no_io(lambda: self.charge_from(payload))``. Like any flow, nothing runs
    until the gateway drives it, so a refusal is raised where every other flow error is.
    """
    yield from ()
    return compute()


PLUGIN_API_VERSION = 1

RETRY_SAFE = "paymux.retry_safe"
"""``httpx.Request.extensions`` key: True when sending the request twice cannot double-charge."""
OPERATION = "paymux.operation"
"""``httpx.Request.extensions`` key: the operation name, for logs."""


BEST_EFFORT = "paymux.best_effort"
"""``httpx.Request.extensions`` key: True when the flow can do without the answer. When the network
gives up on it (after any retries), the runner sends the flow a ``599`` answer instead of ending
the operation with ``TransportError``: e.g. Omise's QR image, fetched after the charge exists,
whose loss must not make a created charge look like a failed create."""


def mark(
    request: httpx.Request, *, operation: str, retry_safe: bool, best_effort: bool = False
) -> httpx.Request:
    """Tag a request for the runner (logging, retry policy, and whether it may go unanswered)."""
    request.extensions[OPERATION] = operation
    request.extensions[RETRY_SAFE] = retry_safe
    if best_effort:
        request.extensions[BEST_EFFORT] = True
    return request


def is_retry_safe(request: httpx.Request) -> bool:
    return bool(request.extensions.get(RETRY_SAFE, False))


EARLIER_ATTEMPT = "paymux.earlier_attempt"
"""``httpx.Response.extensions`` key, set by the runner: an earlier attempt of this request may
have reached the provider (its answer was lost or retried), so what the provider now holds under
the request's reference may be that attempt's own doing."""


def after_earlier_attempt(response: httpx.Response) -> bool:
    """True when ``response`` answers a retry whose earlier attempt may have reached the provider.

    A create refused as a duplicate then most likely met its own first attempt: the flow returns
    that charge, or says "it may exist" (``TransportError(request_sent=True)``), never
    ``DuplicateRequest``, which means the reference was used for a different request."""
    return bool(response.extensions.get(EARLIER_ATTEMPT, False))


class ProviderSettings(BaseModel):
    """Base of each provider's settings model. Keep secrets as ``SecretStr``."""

    # Built on first use, like the public models (_base.Model): every plugin subclasses this, and
    # building each schema at import was the larger part of importing a plugin.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def secret_values(self) -> list[str]:
        """Every secret in these settings, for log and error redaction."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        return found


CANCEL_CHARGE = "cancel_charge"
LIST_CHARGES = "list_charges"
LIST_REFUNDS = "list_refunds"
RETRIEVE_REFUND = "retrieve_refund"
OPERATIONS = (CANCEL_CHARGE, LIST_CHARGES, LIST_REFUNDS, RETRIEVE_REFUND)
"""The operations after the charge a capability may declare (``Capability.operations``)."""


@dataclass(frozen=True)
class ChargeQuery:
    """What ``Gateway.list_charges`` asks for, already checked (aware datetimes, statuses)."""

    since: datetime | None = None
    until: datetime | None = None
    statuses: frozenset[ChargeStatus] | None = None

    def admits(self, charge: Charge) -> bool:
        if self.statuses is not None and charge.status not in self.statuses:
            return False
        created = charge.created_at
        if created is None:
            return True
        return (self.since is None or created >= self.since) and (
            self.until is None or created <= self.until
        )


@dataclass(frozen=True)
class ChargeListPage:
    """One page of a provider's charge list, and the provider's cursor to the next (None: last)."""

    charges: tuple[Charge, ...]
    next: str | None


class ChargeLookup(Model):
    """How to find a charge at the provider: by its id, the merchant reference, or both."""

    charge_id: str | None = None
    reference: str | None = None
    charge: Charge | None = None
    """The charge as last known, when the caller had one (carries method, amount, ...)."""


SettingsT = TypeVar("SettingsT", bound=ProviderSettings)


def _without_values(message: str, raw: Any) -> str:
    """``message`` with every text value found in ``raw`` (nested too) replaced by ``***``."""
    values: list[str] = []

    def collect(item: Any) -> None:
        if isinstance(item, SecretStr):
            item = item.get_secret_value()
        if isinstance(item, str | bytes):
            text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
            # Very short values ("a", "1") would mangle the message and hide nothing.
            if len(text) >= 6:
                values.extend({text, repr(text)})
        elif isinstance(item, Mapping):
            for nested in item.values():
                collect(nested)
        elif isinstance(item, list | tuple | set | frozenset):
            for nested in item:
                collect(nested)

    collect(raw)
    for value in sorted(values, key=len, reverse=True):
        message = message.replace(value, "***")
    return message


class VerifiedWebhook(Generic[T]):
    """A delivery :meth:`Provider.verify_webhook` proved genuine; the only input of
    :meth:`Provider.translate_webhook`, which therefore never sees unverified bytes.

    A plain slotted class, not a frozen dataclass: one is built per webhook, on the merchant's
    hot path, and a frozen dataclass costs several times more to build."""

    __slots__ = ("payload", "provider", "verified_by")

    provider: str
    """The configured name of the provider that verified it."""
    payload: T
    """The proven content, in the plugin's own shape (parsed JSON, an envelope, ...)."""
    verified_by: str
    """How it was proven (``signature``, ``refetch``, ...), for ``WebhookEvent.verified_by``."""

    def __init__(self, provider: str, payload: T, verified_by: str = "signature") -> None:
        self.provider = provider
        self.payload = payload
        self.verified_by = verified_by

    def __repr__(self) -> str:
        # The payload may hold personal data or signatures: never shown.
        return f"VerifiedWebhook(provider={self.provider!r}, verified_by={self.verified_by!r})"


class Provider(ABC, Generic[SettingsT]):
    """Base class of provider plugins; register a subclass under ``paymux.providers``."""

    plugin_name: ClassVar[str]
    """The entry-point name, e.g. ``"ecommpay"``."""
    settings_model: ClassVar[type[ProviderSettings]]
    plugin_api_version: ClassVar[int] = PLUGIN_API_VERSION
    webhook_ack: ClassVar[tuple[int, str]] = (200, "OK")
    """What the checkout's webhook endpoint should answer once the event is handled."""
    example: ClassVar[bool] = False
    """True for a plugin that only shows how to write one (``providers/_template``): installed
    next to real plugins, it is left out of ``paymux sandbox`` and ``paymux demo``."""
    unique_references: ClassVar[bool] = False
    """True when the provider itself refuses a second create with a reference it already holds
    (answering :class:`~paymux.errors.DuplicateRequest`). Then a create may be sent again after
    a look-up by reference missed, however the look-up lags; otherwise only a conclusive
    :class:`~paymux.errors.NotFound` allows it."""

    def __init__(self, settings: SettingsT, *, name: str | None = None) -> None:
        self.settings: SettingsT = settings
        self.name = name or self.plugin_name

    @classmethod
    def configure(
        cls, raw: Mapping[str, Any] | ProviderSettings, *, name: str | None = None
    ) -> Provider[Any]:
        """Validate ``raw`` with the provider's own settings model and build the provider."""
        label = name or cls.plugin_name
        if isinstance(raw, ProviderSettings):
            if not isinstance(raw, cls.settings_model):
                raise ConfigurationError(
                    f"{label}: expected {cls.settings_model.__name__}, got {type(raw).__name__}"
                )
            return cls(raw, name=name)  # type: ignore[arg-type]
        values = dict(raw)
        # The merchant's contract: applied to the plugin's capabilities, not a plugin setting.
        overrides = values.pop(CAPABILITIES_SETTING, None)
        try:
            settings = cls.settings_model.model_validate(values)
        except ValidationError as exc:
            # Only locations and messages: pydantic's own text would echo the (secret) input.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(settings)'}:"
                f" {str(err['msg']).removeprefix('Value error, ')}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            # A plugin's own validator may quote the value it refuses, and any setting may hold
            # a secret pasted in the wrong place (a key in base_url): never echo a value.
            problems = _without_values(problems, raw)
        else:
            provider = cls(settings, name=name)  # type: ignore[arg-type]
            if overrides is not None:
                provider.override_capabilities(overrides)
            return provider
        # Raised outside the except block: ``from None`` only hides the ValidationError, which
        # would stay reachable as ``__context__`` with the secret in its text.
        raise ConfigurationError(f"{label}: invalid settings: {problems}")

    # -- description -------------------------------------------------------------------------

    @abstractmethod
    def capabilities(self) -> list[Capability]:
        """Methods, countries, currencies, limits and refund support, as data."""

    def describe(self) -> dict[str, str]:
        """Non-secret facts worth showing (mode, endpoint)."""
        return {}

    def secret_values(self) -> list[str]:
        return self.settings.secret_values()

    def reconcile_after(self, charge: Charge) -> timedelta:
        """How long after creation polling the provider makes sense for ``charge``."""
        return timedelta(seconds=10)

    def response_request_id(self, response: httpx.Response) -> str | None:
        """The provider's id for this answer (what its support asks for), for logs and spans.

        By default a conventional header (``X-Request-Id``, ...); override for a provider that
        puts it elsewhere. Called only while logs or traces record it; None when there is none.
        """
        return header_request_id(response)

    def declared_capabilities(self) -> tuple[Capability, ...]:
        """:meth:`capabilities`, built once: they are frozen data, and routing reads them for
        every charge."""
        cached: tuple[Capability, ...] | None = self.__dict__.get("_declared_capabilities")
        if cached is None:
            cached = tuple(self.capabilities())
            self.__dict__["_declared_capabilities"] = cached
        return cached

    def possible_capabilities(self) -> list[Capability]:
        """Everything the plugin *can* offer, which configuration may enable or narrow (e.g. a
        method or currency the provider sells only on some contracts). By default exactly
        :meth:`capabilities`."""
        return self.capabilities()

    def override_capabilities(self, overrides: Sequence[Mapping[str, Any]]) -> None:
        """Apply the merchant's ``capabilities`` setting (:mod:`paymux.capability_overrides`):
        narrow the declared capabilities or enable possible ones; ``ConfigurationError`` for
        anything beyond :meth:`possible_capabilities`."""
        changed = apply_overrides(
            self.name, self.declared_capabilities(), self.possible_capabilities(), overrides
        )
        self.__dict__["_declared_capabilities"] = changed
        self.__dict__.pop(CHECKED, None)

    def capability_for(self, method: str) -> Capability | None:
        return next((c for c in self.declared_capabilities() if c.method == method), None)

    def lookup(self, id_or_reference: str) -> ChargeLookup:
        """Interpret a bare string given to ``Gateway.retrieve_charge(provider, value)``."""
        return ChargeLookup(charge_id=id_or_reference)

    # -- operations (flows) ------------------------------------------------------------------

    @abstractmethod
    def create_charge(self, request: ChargeRequest) -> Flow[Charge]: ...

    @abstractmethod
    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]: ...

    @abstractmethod
    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        """Refund ``amount`` of ``charge``; the core has already checked the generic rules."""

    # -- webhooks: verify, then translate ---------------------------------------------------

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        """Prove that ``body`` comes from the provider, reading nothing else before the proof.

        Returns :meth:`verified` (the proven content, e.g. the parsed JSON); raises
        :class:`~paymux.errors.WebhookVerificationError` otherwise. A flow, because some
        providers prove a delivery by asking for it (Omise without a webhook secret); a
        signature check is ``no_io(...)``. Headers arrive with lower-case names.
        """
        return no_io(partial(self._refuse_webhooks))

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        """The neutral :class:`WebhookEvent` for a verified delivery (a flow: it may read more,
        e.g. confirm a final status with the provider)."""
        return no_io(partial(self._refuse_webhooks))

    def verified(self, payload: Any, *, by: str = "signature") -> VerifiedWebhook[Any]:
        """What :meth:`verify_webhook` returns once ``payload`` is proven genuine (``by``: how,
        kept in ``WebhookEvent.verified_by``)."""
        return VerifiedWebhook(self.name, payload, by)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[WebhookEvent]:
        """:meth:`verify_webhook`, then :meth:`translate_webhook` on what it proved.

        The core runs the two steps so that no plugin translates a body that was not verified.
        A plugin written before the split may still override this method alone; it then keeps
        the duty of verifying first.
        """
        try:
            verified = yield from self.verify_webhook(body, headers)
        except PayloadError as exc:
            # Unproven content is not a parse target: a body the verify step cannot read is
            # one that cannot be verified.
            raise WebhookVerificationError(
                f"{self.name}: the webhook cannot be verified ({exc})"
            ) from None
        if not isinstance(verified, VerifiedWebhook) or verified.provider != self.name:
            raise WebhookVerificationError(
                f"{self.name}: verify_webhook returned {type(verified).__name__}, not this"
                " provider's VerifiedWebhook"
            )
        try:
            return (yield from self.translate_webhook(verified))
        except PayloadError as exc:
            # The one place a webhook's reader error becomes public (API answers: the runner),
            # so that every caller, the gateway or a bare test driver, sees the same error.
            raise WebhookParseError(f"{self.name}: unreadable webhook: {exc}") from None

    def _refuse_webhooks(self) -> Any:
        raise WebhookVerificationError(f"{self.name} does not verify webhooks")

    def supports(self, operation: str, method: str | None = None) -> bool:
        """Whether a capability (the one for ``method``, or any when None) declares it."""
        if method is not None:
            capability = self.capability_for(method)
            return capability is not None and operation in capability.operations
        return any(operation in c.operations for c in self.declared_capabilities())

    def check_operation(self, operation: str, method: str | None = None) -> None:
        """:class:`OperationNotSupported` unless a capability declares ``operation``."""
        if not self.supports(operation, method):
            what = f" for {method} payments" if method is not None else ""
            raise OperationNotSupported(
                f"{self.name} offers no {operation}{what}", provider=self.name, operation=operation
            )

    def cancel_charge(self, charge: Charge) -> Flow[Charge]:
        """Stop a charge the customer has not paid; the charge as the provider then reports it."""
        return no_io(partial(self._not_implemented, CANCEL_CHARGE, charge.method))

    def list_charges(self, query: ChargeQuery, cursor: str | None) -> Flow[ChargeListPage]:
        """One page of the provider's charges matching ``query``, from ``cursor`` (None: first)."""
        return no_io(partial(self._not_implemented, LIST_CHARGES, None))

    def _not_implemented(self, operation: str, method: str | None) -> Any:
        self.check_operation(operation, method)
        raise OperationNotSupported(
            f"{self.name} declares {operation} but does not implement it",
            provider=self.name,
            operation=operation,
        )

    def list_refunds(self, charge: Charge) -> Flow[list[Refund]]:
        """Every refund of ``charge``. By default the list a fresh look-up of the charge carries
        (``Charge.refunds``); a provider with a refund endpoint overrides this."""
        self.check_operation(LIST_REFUNDS, charge.method)
        lookup = ChargeLookup(charge_id=charge.id, reference=charge.reference, charge=charge)
        fetched = yield from self.retrieve_charge(lookup)
        if fetched.refunds is None:
            raise ProviderError(
                f"the answer for charge {charge.id} does not list its refunds",
                provider=self.name,
                code="no_refund_list",
            )
        return list(fetched.refunds)

    def retrieve_refund(self, charge: Charge, refund_id: str) -> Flow[Refund]:
        """One refund of ``charge`` by the provider's refund id (or the merchant's reference)."""
        self.check_operation(RETRIEVE_REFUND, charge.method)
        refunds = yield from self.list_refunds(charge)
        for refund in refunds:
            if refund_id in (refund.id, refund.reference):
                return refund
        raise NotFound(
            f"charge {charge.id} has no refund {refund_id!r}",
            provider=self.name,
            code="not_found",
            conclusive=True,
        )

    def check_account(self) -> Flow[dict[str, str]]:
        """Compare the account the provider holds for these credentials with the settings (its
        country, its methods' currencies): :class:`ConfigurationError` naming each mismatch, else
        what was checked. ``OperationNotSupported`` where the provider has no way to tell."""
        return no_io(partial(self._no_account_check))

    def _no_account_check(self) -> dict[str, str]:
        raise OperationNotSupported(
            f"{self.name} cannot read its account's settings back",
            provider=self.name,
            operation="check_account",
        )

    def clarify(self, charge: Charge, fields: Mapping[str, str]) -> Flow[Charge]:
        return no_io(partial(self._no_clarification))

    def _no_clarification(self) -> Charge:
        raise InvalidRequest(f"{self.name} does not ask for additional customer information")

    # -- helpers for subclasses --------------------------------------------------------------

    def check_capability(self, request: ChargeRequest) -> Capability:
        """The capability that takes ``request``; :class:`InvalidRequest` naming the field if none.

        Call it first in ``create_charge``: a flow driven without the router (an explicit
        ``provider=``, or a test) must refuse what the provider would refuse, before any request.
        The rules are the capability's data (:func:`paymux.capability_checks.check_charge`).
        """
        return check_charge(self, request)

    def check_refund(self, charge: Charge, amount: Money) -> None:
        """The refund rules of the capability table (:func:`~paymux.capability_checks.
        refund_amount`); providers add their own."""
        capability = self.capability_for(charge.method) if charge.method else None
        refund_amount(charge, amount, capability, provider=self.name)
