"""One typed reader over a provider's decoded JSON, with one error type.

A provider answer or a webhook is untrusted data: any key may be missing or of another type. Plugins
read it through :class:`Payload`, which raises :class:`PayloadError` naming the path of the value
(``'charge.source.amount' is not an integer``) instead of a ``KeyError`` or ``TypeError``. The
runner turns a ``PayloadError`` that leaves a flow into the public error in one place:
``ProviderError`` (code ``invalid_response``) for an API answer, ``WebhookParseError`` for a
webhook. Plugins therefore let it propagate.

The reader is thin on purpose (webhooks are parsed on the merchant's hot path): one small object per
nested object read, type checks with ``type(...) is`` first, no validation library.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequest, ProviderError
from .money import Money

INVALID_RESPONSE = "invalid_response"
"""``ProviderError.code`` of an API answer paymux cannot read."""


class PayloadError(Exception):
    """A provider payload lacks a value paymux needs, or has it in another shape.

    Internal to flows: the runner converts it (see the module text), so users never catch it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Payload:
    """A decoded JSON object and where it sits in the document (for error messages)."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    @classmethod
    def of(cls, value: Any, what: str = "the payload") -> Payload:
        """``value`` as a payload; :class:`PayloadError` unless it is a JSON object."""
        if type(value) is dict or isinstance(value, Mapping):
            return cls(value)
        raise PayloadError(f"{what} is not a JSON object (got {_kind(value)})")

    def __repr__(self) -> str:
        # Values may be personal data or signatures: name the place, never the content.
        return f"Payload(path={self.path or '(root)'!r}, keys={len(self.data)})"

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        """The raw value under ``key`` (None when absent), for fields read by hand."""
        return self.data.get(key)

    def fail(self, key: str, problem: str) -> PayloadError:
        """The error for ``key``, e.g. ``raise payload.fail("status", "is not a known word")``."""
        where = _join(self.path, key)
        return PayloadError(f"{where!r} {problem}", where)

    # -- text -------------------------------------------------------------------------------

    def text(self, key: str) -> str:
        """A non-empty string."""
        value = self.data.get(key)
        if type(value) is str and value:
            return value
        raise self.fail(key, "is missing" if value is None else "is not a non-empty string")

    def optional_text(self, key: str) -> str | None:
        """A string, or None when absent, null or empty."""
        value = self.data.get(key)
        if value is None or type(value) is str:
            return value or None
        raise self.fail(key, "is not a string")

    def identifier(self, key: str) -> str:
        """An id or a code, which some providers send as a number and some as a string."""
        found = self.optional_identifier(key)
        if found is None:
            raise self.fail(key, "is missing")
        return found

    def optional_identifier(self, key: str) -> str | None:
        value = self.data.get(key)
        if type(value) is str:
            return value or None
        if type(value) is int:
            return str(value)
        if value is None:
            return None
        raise self.fail(key, "is not an id (a string or an integer)")

    # -- numbers ----------------------------------------------------------------------------

    def integer(self, key: str, *, minimum: int | None = 0) -> int:
        """An integer (never a bool or a float), at least ``minimum`` unless that is None."""
        value = self.data.get(key)
        if type(value) is int and (minimum is None or value >= minimum):
            return value
        if value is None:
            raise self.fail(key, "is missing")
        bound = "" if minimum is None else f" >= {minimum}"
        raise self.fail(key, f"is not an integer{bound}")

    def optional_integer(self, key: str, *, minimum: int | None = 0) -> int | None:
        if self.data.get(key) is None:
            return None
        return self.integer(key, minimum=minimum)

    def optional_boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or type(value) is bool:
            return value
        raise self.fail(key, "is not true or false")

    def money(self, amount: str = "amount", currency: str = "currency") -> Money:
        """``Money`` from an integer minor-unit amount and an ISO 4217 code in this object."""
        return money_in(self.data, self.path, amount, currency)

    # -- nesting ----------------------------------------------------------------------------

    def object(self, key: str) -> Payload:
        """The JSON object under ``key``."""
        value = self.data.get(key)
        if type(value) is dict or isinstance(value, Mapping):
            return Payload(value, _join(self.path, key))
        raise self.fail(key, "is missing" if value is None else "is not an object")

    def optional_object(self, key: str) -> Payload | None:
        """The JSON object under ``key``; None when absent or null."""
        if self.data.get(key) is None:
            return None
        return self.object(key)

    def list(self, key: str) -> builtins.list[Any]:
        """The JSON list under ``key`` (its items unread)."""
        value = self.data.get(key)
        if type(value) is list:
            return value
        raise self.fail(key, "is missing" if value is None else "is not a list")

    def optional_list(self, key: str) -> builtins.list[Any] | None:
        if self.data.get(key) is None:
            return None
        return self.list(key)

    def objects(self, key: str) -> builtins.list[Payload]:
        """Every item of the list under ``key``, each a JSON object."""
        where = _join(self.path, key)
        found = []
        for index, item in enumerate(self.list(key)):
            if not (type(item) is dict or isinstance(item, Mapping)):
                raise PayloadError(f"'{where}[{index}]' is not an object", f"{where}[{index}]")
            found.append(Payload(item, f"{where}[{index}]"))
        return found


def money_in(
    data: Mapping[str, Any], path: str = "", amount: str = "amount", currency: str = "currency"
) -> Money:
    """:meth:`Payload.money` without building a :class:`Payload` (``path``: where ``data`` sits),
    for a webhook's hot path."""
    minor, code = data.get(amount), data.get(currency)
    if type(minor) is not int:
        minor = Payload(data, path).integer(amount, minimum=None)  # raises, naming the problem
    if type(code) is not str or not code:
        code = Payload(data, path).text(currency)  # raises, naming the problem
    try:
        # Some API versions send lower-case codes; the code itself is the same.
        return Money._minor(minor, code if code.isupper() else code.upper())
    except InvalidRequest as exc:
        raise PayloadError(
            f"{path or 'the payload'}: unusable amount: {exc.reason}", path
        ) from None


def unreadable_answer(
    error: PayloadError, provider: str, http_status: int | None, *, text: str | None = None
) -> ProviderError:
    """The public error for a provider answer a flow could not read (``text``: the message,
    already redacted, when the caller redacts)."""
    return ProviderError(
        f"unreadable answer: {error.message if text is None else text}",
        provider=provider,
        code=INVALID_RESPONSE,
        http_status=http_status,
    )


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", type(None): "null", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


__all__ = ["INVALID_RESPONSE", "Payload", "PayloadError", "money_in", "unreadable_answer"]
