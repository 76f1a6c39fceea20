"""What a signed callback must look like before paymux reads it.

ECommPay signs the flattened text ``path:value;path:value...`` and escapes neither ``;`` nor
``:`` in values, so one signature fits every JSON document that flattens to the same text. Two
ways of rebuilding a document around a genuine signature are closed here, before anything is
translated (the shape checks run in the one walk that also flattens the body for the signature):

* a *leaf moved into a key or a value*: a known field (as the seeds and the official SDKs show
  it) that has the wrong JSON shape, e.g. ``payment.date`` as an object, ``payment.sum`` as text
  or ``payment`` not an object, is refused. So is a string value holding ``;`` followed by a
  path that would sort between this leaf and the next one: that is a leaf that has been swallowed
  by its neighbour (``"method": "kakaopay;payment:status:success"``). Keys holding ``;`` or ``:``
  are refused while flattening (:func:`received_leaves`).
* *something else paymux signed*: Payment Page parameters and Gate request bodies have no
  ``payment.status`` or ``operation.status`` (and paymux refuses ``;`` in what it signs), so they
  can never pass for a callback.

Fields paymux does not read are kept as they come, whatever their shape: real callbacks carry
more than the seeds show, and a refused callback is retried for days.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paymux.errors import WebhookVerificationError

from .signing import MAX_DEPTH, AmbiguousKey, SignatureInputError, _render, unsigned


class CallbackShapeError(WebhookVerificationError):
    """A signed callback whose known fields have a shape no genuine callback has."""


_LONGEST_PATH = 256

# What a known field must be. "scalar": text, number, boolean or null; "int": an integer (amounts);
# a dict: an object (or [] / null, which PHP writes for an empty one) with these known children;
# ("list", children): a list of such objects; "form": an object (or []) of scalars (a redirect's
# form fields); "fields": clarification_fields, an object of field-name lists or schemas.
SCALAR, INT, FORM, FIELDS = "scalar", "int", "form", "fields"
_MONEY: dict[str, Any] = {"amount": INT, "currency": SCALAR}
_PROVIDER: dict[str, Any] = {"id": SCALAR, "payment_id": SCALAR, "auth_code": SCALAR}
_PAYMENT: dict[str, Any] = {
    "id": SCALAR,
    "type": SCALAR,
    "status": SCALAR,
    "date": SCALAR,
    "method": SCALAR,
    "description": SCALAR,
    "merchant_refund_id": SCALAR,
    "sum": _MONEY,
}
_OPERATION: dict[str, Any] = {
    "id": SCALAR,
    "type": SCALAR,
    "status": SCALAR,
    "date": SCALAR,
    "created_date": SCALAR,
    "request_id": SCALAR,
    "code": SCALAR,
    "message": SCALAR,
    "sum_initial": _MONEY,
    "sum_converted": _MONEY,
    "provider": _PROVIDER,
}
_ITEM: dict[str, Any] = {"type": SCALAR, "title": SCALAR, "data": SCALAR}
_ERROR: dict[str, Any] = {"code": SCALAR, "message": SCALAR, "field": SCALAR}
SCHEMA: dict[str, Any] = {
    "project_id": SCALAR,
    "general": {"project_id": SCALAR, "payment_id": SCALAR, "signature": SCALAR},
    "payment": _PAYMENT,
    "operation": _OPERATION,
    "customer": {"id": SCALAR, "phone": SCALAR, "email": SCALAR},
    "errors": ("list", _ERROR),
    "display_data": ("list", _ITEM),
    "redirect_data": {"url": SCALAR, "method": SCALAR, "body": FORM},
    "clarification_fields": FIELDS,
}


class _Every(dict[str, Any]):
    """A schema level that gives every key the same spec."""

    def __init__(self, spec: Any) -> None:
        super().__init__()
        self.spec = spec

    def get(self, key: str, default: Any = None) -> Any:
        return self.spec


_FORM_LEVEL = _Every(SCALAR)
_FIELDS_LEVEL = _Every(("group", SCALAR))
_ANY_LEVEL = _Every(None)


def _refuse(path: str, what: str) -> CallbackShapeError:
    name = path.replace(":", ".")
    return CallbackShapeError(f"'{name}' is not {what} as in every genuine callback")


def _object_level(spec: Any) -> dict[str, Any] | None:
    """The schema to walk an object value with, or None if ``spec`` does not allow an object."""
    if type(spec) is dict or type(spec) is _Every:
        return spec
    if spec is FORM:
        return _FORM_LEVEL
    if spec is FIELDS:
        return _FIELDS_LEVEL
    if type(spec) is tuple and spec[0] == "group":
        return _ANY_LEVEL  # a JSON schema of a clarification group: read as it comes
    return None


def _walk(
    node: dict[str, Any],
    prefix: str,
    depth: int,
    out: list[tuple[str, str]],
    schema: dict[str, Any],
) -> None:
    """Flatten ``node`` as it is signed, checking known fields against ``schema`` on the way.

    One pass does both: the flattening the signature needs and the shape checks, so a callback
    is walked once. Keys that make the signed text ambiguous (empty, holding ``;`` or ``:``)
    are refused here too: the official SDKs disagree on escaping ``:`` in keys and none escapes
    ``;``; no real callback has either, and with them one signed text fits several documents.
    ``prefix`` is the parent's path with its trailing ``:`` ("" at the top).
    """
    if depth > MAX_DEPTH:
        raise SignatureInputError(f"nested deeper than {MAX_DEPTH} levels")
    append = out.append
    for key, value in node.items():
        if key == "frame_mode":
            continue
        if not key or ";" in key or ":" in key:
            raise AmbiguousKey(f"the key {key[:40]!r} makes the signed text ambiguous")
        path = prefix + key
        spec = schema.get(key)
        kind = type(value)
        if kind is str:
            if spec is not None and spec is not SCALAR:
                raise _refuse(path, "an integer" if spec is INT else "an object or a list")
            append((path, value))
        elif kind is int:
            if spec is not None and spec is not SCALAR and spec is not INT:
                raise _refuse(path, "an object or a list")
            append((path, str(value)))
        elif kind is dict:
            if type(spec) is dict:
                level: dict[str, Any] | None = spec
            else:
                level = _ANY_LEVEL if spec is None else _object_level(spec)
            if level is None:
                raise _refuse(path, "a plain value" if spec in (SCALAR, INT) else "a list")
            _walk(value, path + ":", depth + 1, out, level)
        elif kind is list:
            if spec is None or type(spec) is tuple:
                _walk_list(value, path, depth + 1, out, spec)
            elif not value and spec is not SCALAR and spec is not INT:
                continue  # an empty object written as []: no leaves
            else:
                raise _refuse(path, "a plain value" if spec in (SCALAR, INT) else "an object")
        else:
            if spec is INT:
                if kind is not int:
                    raise _refuse(path, "an integer")
            elif spec is not None and spec is not SCALAR and value is not None:
                raise _refuse(path, "an object or a list")
            append((path, _render(value)))


def _walk_list(
    node: list[Any],
    prefix: str,
    depth: int,
    out: list[tuple[str, str]],
    spec: tuple[str, Any] | None,
) -> None:
    if depth > MAX_DEPTH:
        raise SignatureInputError(f"nested deeper than {MAX_DEPTH} levels")
    items: Any = spec[1] if spec is not None else None
    for index, value in enumerate(node):
        path = f"{prefix}:{index}"
        kind = type(value)
        if items is SCALAR:  # a clarification group: field names
            if kind is dict or kind is list:
                raise _refuse(path, "a field name")
            out.append((path, value if kind is str else _render(value)))
        elif kind is dict:
            _walk(value, path + ":", depth + 1, out, items if items is not None else _ANY_LEVEL)
        elif items is not None:
            raise _refuse(path, "an object")
        elif kind is list:
            _walk_list(value, path, depth + 1, out, None)
        elif kind is str:
            out.append((path, value))
        else:
            out.append((path, _render(value)))


def received_leaves(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Every signed leaf of a received callback (signatures left out), bytewise sorted, with the
    known fields' shapes checked on the way (:data:`SCHEMA`)."""
    out: list[tuple[str, str]] = []
    _walk(unsigned(payload), "", 0, out, SCHEMA)
    # Paths are unique (keys hold no ':'), so sorting the pairs sorts by path.
    out.sort()
    return out


def check_root(payload: dict[str, Any]) -> None:
    """What every callback states: its payment as an object, and a payment or operation status."""
    payment = payload.get("payment")
    if type(payment) is not dict:
        raise CallbackShapeError("a callback states its payment as an object ('payment')")
    operation = payload.get("operation")
    has_status = payment.get("status") not in (None, "") or (
        type(operation) is dict and operation.get("status") not in (None, "")
    )
    if not has_status:
        # Payment Page parameters and Gate requests (also signed with the project's key) have
        # neither; a callback always states one.
        raise CallbackShapeError("the payload states no payment or operation status")


def check_swallowed_leaves(leaves: list[tuple[str, str]], order: Callable[[str], Any]) -> None:
    """Refuse a value that holds ``;`` and then a path sorting between its own leaf and the next.

    Joined with ``;``, such a value reads exactly like two leaves, so the signature of a payload
    *with* that second leaf also fits this one (which lacks it): a status, an amount or a QR code
    could be made to disappear from a genuine callback. A ``;`` in ordinary text ("Order 7; gift")
    is followed by something that cannot sit there and passes.
    """
    last = len(leaves) - 1
    for index, (path, value) in enumerate(leaves):
        if ";" not in value:
            continue
        low = order(path)
        high = order(leaves[index + 1][0]) if index < last else None
        for segment in value.split(";")[1:]:
            # Paths of genuine callbacks are short; looking further would only cost time.
            at = segment.find(":", 0, _LONGEST_PATH)
            while at >= 0:
                candidate = order(segment[:at])
                if low < candidate and (high is None or candidate < high):
                    raise CallbackShapeError(
                        f"the value of '{path.replace(':', '.')}' holds what reads as another"
                        " signed field; refused as a re-arranged callback"
                    )
                at = segment.find(":", at + 1, _LONGEST_PATH)
