"""ECommPay's signature: one HMAC-SHA512 scheme for Gate bodies, callbacks, status answers and
Payment Page URLs.

The signed text is every leaf of the JSON object (minus ``signature`` itself) written as
``path:value``, sorted, and joined with ``;``. The official SDKs disagree on one detail, the order
of list indexes past 9: PHP (the reference implementation) sorts paths naturally (``items:2`` before
``items:10``), Python/Go/Java bytewise. We sign the PHP way and accept either when verifying.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import SecretStr

from paymux.webhook_security import any_signature_matches

# The SDKs of every language skip this key at any depth: it only tells the Payment Page how to open.
_IGNORED_KEYS = frozenset({"frame_mode"})
_DIGITS = re.compile(r"([0-9]+)")  # ASCII only, as PHP's natural order
_HAS_DIGIT = re.compile(r"[0-9]")

# Deeper than any real ECommPay payload; stops hostile input from exhausting the stack.
MAX_DEPTH = 32


class SignatureInputError(ValueError):
    """The object cannot be signed (too deep, or a value type JSON does not have)."""


class AmbiguousKey(SignatureInputError):
    """A received key would make the signed text readable in more than one way."""


def _render(value: Any) -> str:
    if type(value) is str:  # the common case first; True/False are never str
        return value
    # bool before int: True is an int in Python but the platform writes it as 1.
    if value is True:
        return "1"
    if value is False:
        return "0"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Only reached for received payloads (we never send floats). PHP prints 1.0 as "1".
        return str(int(value)) if value.is_integer() else repr(value)
    raise SignatureInputError(f"cannot sign a value of type {type(value).__name__}")


def _collect(
    node: Mapping[Any, Any] | list[Any], prefix: str, depth: int, out: list[tuple[str, str]]
) -> None:
    """Append every leaf of ``node`` to ``out`` as ``(path, rendered value)``."""
    if depth > MAX_DEPTH:
        raise SignatureInputError(f"nested deeper than {MAX_DEPTH} levels")
    items = node.items() if type(node) is dict or isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        if key in _IGNORED_KEYS:
            continue
        # A ':' inside a key would be mistaken for a level separator; PHP/Java double it.
        part = str(key).replace(":", "::")
        path = f"{prefix}:{part}" if prefix else part
        kind = type(value)
        if kind is dict or kind is list or (kind is not str and isinstance(value, Mapping | list)):
            # An empty container yields nothing: its key disappears from the signed text.
            _collect(value, path, depth + 1, out)
        else:
            out.append((path, _render(value)))


def _natural_key(path: str) -> tuple[tuple[int, int, str], ...]:
    # Digit runs compare as numbers. A text run never starts with a digit, so its first character
    # alone decides against a digit run, exactly as the byte comparison PHP falls back to.
    chunks = []
    for chunk in _DIGITS.split(path):
        if not chunk:
            continue
        if _DIGITS.fullmatch(chunk):
            chunks.append((ord("0"), int(chunk), chunk))
        else:
            chunks.append((ord(chunk[0]), 0, chunk))
    return tuple(chunks)


def _path(leaf: tuple[str, str]) -> str:
    return leaf[0]


_cached_natural_key = lru_cache(maxsize=4096)(_natural_key)


def _natural(leaf: tuple[str, str]) -> tuple[tuple[int, int, str], ...]:
    # Paths repeat from one payload to the next; long (hostile) ones are not kept.
    path = leaf[0]
    return _cached_natural_key(path) if len(path) <= 256 else _natural_key(path)


def _ordered(leaves: list[tuple[str, str]], natural: bool) -> list[tuple[str, str]]:
    # Without digits in any path the natural order is the bytewise one: each key is then one text
    # chunk, compared by its first character and then as a whole, i.e. as the plain string.
    if natural and _HAS_DIGIT.search("".join([path for path, _ in leaves])):
        return sorted(leaves, key=_natural)
    return sorted(leaves, key=_path)


def _join(leaves: list[tuple[str, str]]) -> str:
    # ":".join over each (path, value) pair: the same text as f"{path}:{value}", built in C.
    return ";".join(map(":".join, leaves))


def unsigned(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without its signature, at top level or in ``general``."""
    data = dict(params)
    data.pop("signature", None)
    general = data.get("general")
    if isinstance(general, Mapping) and "signature" in general:
        data["general"] = {k: v for k, v in general.items() if k != "signature"}
    return data


def _flat_leaves(params: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """The leaves of an object of objects of text and integers (every Gate request body paymux
    builds), without the general walk; None for anything else, which :func:`_collect` takes.
    Exactly :func:`_collect`'s leaves for such an object: no key holds a ``:`` or is ignored."""
    out = []
    for key, inner in params.items():
        if type(key) is not str or type(inner) is not dict or ":" in key or key in _IGNORED_KEYS:
            return None
        for name, value in inner.items():
            if type(name) is not str or ":" in name or name in _IGNORED_KEYS:
                return None
            kind = type(value)
            if kind is str:
                out.append((f"{key}:{name}", value))
            elif kind is int:
                out.append((f"{key}:{name}", str(value)))
            else:
                return None
    return out


def _leaves(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    data = unsigned(params)
    flat = _flat_leaves(data)
    if flat is not None:
        return flat
    out: list[tuple[str, str]] = []
    _collect(data, "", 0, out)
    return out


def string_to_sign(params: Mapping[str, Any], *, natural: bool = True) -> str:
    """The text that is signed, for diagnosing a mismatch. ``natural=False``: bytewise order."""
    return _join(_ordered(_leaves(params), natural))


def _secret_bytes(secret_key: str | SecretStr) -> bytes:
    raw = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
    return raw.encode("utf-8")


def _digest(text: str, secret_key: str | SecretStr) -> str:
    # One-shot hmac.digest runs in C without building an HMAC object.
    mac = hmac.digest(_secret_bytes(secret_key), text.encode("utf-8"), "sha512")
    return base64.b64encode(mac).decode("ascii")


def sign(params: Mapping[str, Any], secret_key: str | SecretStr) -> str:
    """The signature of ``params`` (any ``signature`` already in it is left out)."""
    return _digest(string_to_sign(params), secret_key)


def signed(params: Mapping[str, Any], secret_key: str | SecretStr) -> dict[str, Any]:
    """A copy of a Gate request body with ``general.signature`` filled in."""
    body = dict(params)
    general = dict(body.get("general") or {})
    general.pop("signature", None)
    body["general"] = general
    general["signature"] = sign(body, secret_key)
    return body


def find_signatures(params: Mapping[str, Any]) -> list[str]:
    """The signatures a payload carries: top-level ``signature`` and/or ``general.signature``."""
    found = []
    top = params.get("signature")
    if isinstance(top, str) and top:
        found.append(top)
    general = params.get("general")
    if isinstance(general, Mapping):
        inner = general.get("signature")
        if isinstance(inner, str) and inner:
            found.append(inner)
    return found


def verify(params: Mapping[str, Any], secret_key: str | SecretStr) -> bool:
    """True when ``params`` carries a signature made with ``secret_key`` over its other fields.

    Both list-index orders the official SDKs produce are accepted; the comparison runs in
    constant time. A payload that cannot be signed at all (too deep, odd types) does not verify.
    """
    claimed = find_signatures(params)
    if not claimed:
        return False
    try:
        leaves = _leaves(params)
    except (SignatureInputError, RecursionError):
        return False
    natural = _ordered(leaves, natural=True)
    bytewise = _ordered(leaves, natural=False)
    texts = {_join(natural)} if natural == bytewise else {_join(natural), _join(bytewise)}
    return any_signature_matches([_digest(text, secret_key) for text in texts], claimed)


# -- received payloads: one sort, then the digest ----------------------------------------------


class SignedOrder(NamedTuple):
    """How a received payload's signature matched."""

    leaves: list[tuple[str, str]]
    """The leaves in the order that was signed."""
    natural: bool
    """True: natural order (PHP), False: bytewise."""
    separator_in_values: bool
    """Some value holds a ``;`` (then it may be hiding a neighbouring leaf)."""


def verified_order(
    leaves: list[tuple[str, str]], claimed: list[str], secret_key: str | SecretStr
) -> SignedOrder | None:
    """The order of ``leaves`` (bytewise-sorted, as :func:`webhooks_shape.received_leaves` gives
    them) under which a ``claimed`` signature matches; None if none matches.

    The two orders can differ only where a path holds a digit (a list index, mostly), so the
    second digest is computed only then, and only if the first did not match.
    """
    text = _join(leaves)
    # Keys hold no ';' (refused while flattening): any ';' beyond the separators is in a value.
    in_values = text.count(";") >= len(leaves)
    if any_signature_matches([_digest(text, secret_key)], claimed):
        return SignedOrder(leaves, False, in_values)
    if _HAS_DIGIT.search("".join([path for path, _ in leaves])):
        natural = sorted(leaves, key=_natural)
        if natural != leaves and any_signature_matches(
            [_digest(_join(natural), secret_key)], claimed
        ):
            return SignedOrder(natural, True, in_values)
    return None


def path_order_key(natural: bool) -> Any:
    """The sort key of paths in the given order (for comparing a candidate path with leaves)."""
    if natural:
        return lambda path: _cached_natural_key(path) if len(path) <= 256 else _natural_key(path)
    return lambda path: path
