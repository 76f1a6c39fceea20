"""The errors paymux raises. Everything derives from :class:`PaymuxError`.

::

    PaymuxError
    ├── ConfigurationError        settings, config files, unknown providers
    ├── InvalidRequest            bad input, raised before any network call
    ├── NoRouteError              no configured provider can take the request
    ├── RefundNotAllowed          the refund breaks a provider or bookkeeping rule
    ├── OperationNotSupported     the provider has no such operation (cancel, list, ...)
    ├── ProviderError             the provider answered and said no
    │   ├── AuthenticationError   ... because the credentials were refused
    │   ├── DuplicateRequest      ... because another request holds this reference (nothing new made)
    │   ├── NotFound              ... because it has no such charge, refund or reference
    │   └── RateLimited           ... because too many requests came too fast (nothing done)
    ├── TransportError            the network gave up (after any safe retries)
    ├── OutcomeUnknown            a create may have reached the provider; nothing is resent
    ├── WebhookVerificationError  a callback is not proven to come from the provider
    └── WebhookParseError         a verified callback has a shape paymux cannot read
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PaymuxError(Exception):
    """Base class of every error paymux raises on purpose."""


class ConfigurationError(PaymuxError):
    """The gateway, a provider's settings or a config file are wrong."""


class InvalidRequest(PaymuxError):
    """The request cannot be sent as it is; nothing reached the network.

    ``field`` names the offending input (dotted path) when one field is to blame.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class NoRouteError(PaymuxError):
    """No configured provider can take the request; ``reasons`` says why, per provider."""

    def __init__(self, message: str, reasons: Mapping[str, str]) -> None:
        lines = "".join(f"\n  - {name}: {why}" for name, why in reasons.items())
        super().__init__(message + (lines or "\n  (no providers are configured)"))
        self.reasons: dict[str, str] = dict(reasons)


class RefundNotAllowed(PaymuxError):
    """The refund was refused locally, before the network (amount, window, method rules)."""


class OperationNotSupported(PaymuxError):
    """The provider (or this payment method at it) has no such operation; nothing was sent.

    ``operation`` is the gateway method's name (``cancel_charge``, ``list_charges``, ...);
    ``Gateway.capabilities()`` lists what each provider offers in ``Capability.operations``.
    """

    def __init__(self, message: str, *, provider: str, operation: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.operation = operation


class ProviderError(PaymuxError):
    """The provider answered and refused the operation.

    ``code`` is the provider's own code, ``message`` its explanation, ``http_status`` the HTTP
    status of the answer (for people: code that decides something catches a subclass instead).
    ``raw`` keeps the (secret-free) payload for diagnostics.

    ``nothing_done`` is True only when the plugin knows from the provider's answer that the
    request was refused before anything was made (a validation error, a rate limit); False
    means it may have been processed (a server failure, an answer the plugin cannot place).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
        nothing_done: bool = False,
    ) -> None:
        where = (
            f"{provider}"
            + (f" [{code}]" if code else "")
            + (f" (HTTP {http_status})" if http_status is not None else "")
        )
        super().__init__(f"{where}: {message}")
        self.provider = provider
        self.code = code
        self.message = message
        self.http_status = http_status
        self.raw = raw
        self.nothing_done = nothing_done


class AuthenticationError(ProviderError):
    """The provider refused the credentials (wrong key, project id or signature secret)."""


class DuplicateRequest(ProviderError):
    """The reference is held by a different request (another amount, another refund), so
    nothing new was made: a reference names one operation.

    A repeat of the *same* request never raises it: a create answers with the charge already
    made, and a retry that meets its own lost first attempt answers with that attempt (or a
    :class:`TransportError` with ``request_sent`` while the provider cannot show it yet). Look
    the holder up (``Gateway.retrieve_charge(provider, reference=...)``) to see what it is.
    """


class NotFound(ProviderError):
    """The provider has no charge (refund, payment) with this id or reference.

    ``conclusive`` says whether the answer proves absence. A look-up by id is conclusive; a
    look-up by reference through a search that lags behind new charges is not, unless the plugin
    confirmed the miss from a source that does not lag. Only a conclusive miss (or a provider
    that refuses a reused reference itself) lets the Ledger send a create again.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
        conclusive: bool = False,
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            code=code,
            http_status=http_status,
            raw=raw,
            nothing_done=True,
        )
        self.conclusive = conclusive


class RateLimited(ProviderError):
    """The provider refused the request because of its rate limit; nothing was done.

    Reads are retried by the gateway (honouring ``Retry-After``); writes are not. Try later.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            code=code,
            http_status=http_status,
            raw=raw,
            nothing_done=True,
        )


class OutcomeUnknown(PaymuxError):
    """A create may have reached the provider, and the provider cannot yet say whether it holds
    the charge. paymux sent nothing again (that could charge twice): call again later, or let
    ``Ledger.reconcile`` settle it. ``reference`` names the charge."""

    def __init__(self, message: str, *, provider: str, reference: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.reference = reference


class TransportError(PaymuxError):
    """The network failed and paymux stopped retrying.

    ``request_sent`` is False only when the request provably never reached the provider
    (connection refused, DNS failure); when True, the operation may have been processed and the
    caller should look the payment up (``Gateway.retrieve_charge`` by reference) before retrying.
    """

    def __init__(self, message: str, *, provider: str, request_sent: bool) -> None:
        super().__init__(message)
        self.provider = provider
        self.request_sent = request_sent


class WebhookVerificationError(PaymuxError):
    """The callback's signature (or re-fetch) does not prove it came from the provider."""


class WebhookParseError(PaymuxError):
    """The callback is authentic but its content cannot be understood."""


class LedgerError(PaymuxError):
    """The ledger's database refused or failed an operation (unreachable, a refused write, a
    file that holds no paymux ledger); the message says what to check, never a driver's text."""


__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DuplicateRequest",
    "InvalidRequest",
    "LedgerError",
    "NoRouteError",
    "NotFound",
    "OperationNotSupported",
    "OutcomeUnknown",
    "PaymuxError",
    "ProviderError",
    "RateLimited",
    "RefundNotAllowed",
    "TransportError",
    "WebhookParseError",
    "WebhookVerificationError",
]
