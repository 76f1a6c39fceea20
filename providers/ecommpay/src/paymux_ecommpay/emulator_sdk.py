"""The emulator's signer and verifier: ECommPay's own Python SDK, not paymux's signing module.

The emulator must disagree with paymux wherever the Gate would, so it never borrows paymux's
signer; a bug there would otherwise be mirrored and pass unnoticed. The SDK (``ecommpay-sdk``,
module ``payment_page_sdk``) is a sandbox/test dependency, so it is imported on first use.

The adapter is kept thin; each change to what the SDK sees is one the platform itself makes and
the pinned SDK release (1.0.6, the latest on the package index) does not:

- ``null`` is signed as an empty value by the platform (PHP) and the SDK's own later source; 1.0.6
  writes Python's ``None``. Requests are checked with ``null`` -> ``""``; the emulator never puts
  ``null`` into what it signs, so its callbacks verify under the unmodified SDK.
- A ``:`` inside a key is doubled by the platform; 1.0.6 does not escape it.
- The SDK's ``check`` compares with ``==``; the adapter compares in constant time.

Everything else is the SDK's: the flattening, value rendering, the ``frame_mode`` exclusion and the
bytewise order of paths (the platform's order for lists of 11 or more items is undocumented; paymux
sends no lists, and the emulator's callbacks have shorter ones).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from paymux.errors import ConfigurationError

INSTALL_HINT = "pip install 'paymux-ecommpay[sandbox]'  (or: pip install ecommpay-sdk==1.0.6)"


def _sdk() -> Any:
    try:
        import payment_page_sdk.signature_handler as handler
    except ImportError:
        raise ConfigurationError(
            "the ECommPay emulator signs and verifies with ECommPay's official SDK, which is not"
            f" installed: {INSTALL_HINT}"
        ) from None
    return handler


def require_sdk() -> None:
    """Fail at start-up, with the install command, rather than on the first request."""
    _sdk()


def _as_gate_sees_it(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k).replace(":", "::"): _as_gate_sees_it(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_gate_sees_it(v) for v in node]
    return "" if node is None else node


def _contains_null(node: Any) -> bool:
    if isinstance(node, Mapping):
        return any(_contains_null(v) for v in node.values())
    if isinstance(node, list):
        return any(_contains_null(v) for v in node)
    return node is None


def sign(data: Mapping[str, Any], secret_key: str) -> str:
    """The SDK's signature of ``data`` (which must not contain a ``signature`` key to leave out)."""
    if _contains_null(data):
        # 1.0.6 would sign "None" where the platform signs "": a callback carrying null would be
        # one the official SDK refuses. Emit "" or leave the field out instead.
        raise ValueError("the emulator never signs null values")
    return str(_sdk().SignatureHandler(secret_key).sign(dict(data)))


def check(data: Mapping[str, Any], signature: object, secret_key: str) -> bool:
    """Whether ``signature`` is the platform's signature of ``data`` (signature already removed)."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        expected = _sdk().SignatureHandler(secret_key).sign(_as_gate_sees_it(data))
    except (TypeError, ValueError, RecursionError):
        # Not signable at all (odd types, text that is not UTF-8, absurd depth): not signed.
        return False
    return hmac.compare_digest(signature.encode("utf-8"), str(expected).encode("utf-8"))


def check_request(body: Mapping[str, Any], secret_key: str) -> bool:
    """A Gate request body: the signature is ``general.signature``, everything else is signed."""
    general = body.get("general")
    if not isinstance(general, Mapping):
        return False
    data = dict(body)
    data["general"] = {k: v for k, v in general.items() if k != "signature"}
    return check(data, general.get("signature"), secret_key)


def check_flat(params: Mapping[str, str], secret_key: str) -> bool:
    """Payment Page parameters: flat, with the signature as the ``signature`` parameter."""
    data = {k: v for k, v in params.items() if k != "signature"}
    return check(data, params.get("signature"), secret_key)
