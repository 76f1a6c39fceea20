"""What a signed callback must look like before paymux reads it.

ECommPay signs the flattened text ``path:value;path:value...`` and escapes neither ``;`` nor
``:`` in values, so one signature fits every JSON document that flattens to the same text. Two
ways of rebuilding a document around a genuine signature are closed here, after the signature
matched and before anything is translated:

* a *leaf moved into a key or a value*: a known field (as the seeds and the official SDKs show
  it) that has the wrong JSON shape, e.g. ``payment.date`` as an object, ``payment.sum`` as text
  or ``payment`` not an object, is refused. So is a string value holding ``;`` followed by a
  path that would sort between this leaf and the next one: that is a leaf that has been swallowed
  by its neighbour (``"method": "kakaopay;payment:status:success"``). Keys holding ``;`` or ``:``
  are refused while flattening (:func:`signing.received_leaves`).
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


class CallbackShapeError(WebhookVerificationError):
    """A signed callback whose known fields have a shape no genuine callback has."""


_SCALARS = (str, int, float, bool, type(None))
_LONGEST_PATH = 256

# Kinds: "scalar" (text, number, boolean, null), "amount" ({amount: int, currency: text}),
# "object"/"list" (a container whose known children are checked by the nested table),
# "form" (an object, or [] when empty, of scalars), "fields" (clarification_fields).
_MONEY: dict[str, Any] = {"amount": "int", "currency": "scalar"}
_PROVIDER: dict[str, Any] = {"id": "scalar", "payment_id": "scalar", "auth_code": "scalar"}
_PAYMENT: dict[str, Any] = {
    "id": "scalar",
    "type": "scalar",
    "status": "scalar",
    "date": "scalar",
    "method": "scalar",
    "description": "scalar",
    "merchant_refund_id": "scalar",
    "sum": _MONEY,
}
_OPERATION: dict[str, Any] = {
    "id": "scalar",
    "type": "scalar",
    "status": "scalar",
    "date": "scalar",
    "created_date": "scalar",
    "request_id": "scalar",
    "code": "scalar",
    "message": "scalar",
    "sum_initial": _MONEY,
    "sum_converted": _MONEY,
    "provider": _PROVIDER,
}
_ITEM: dict[str, Any] = {"type": "scalar", "title": "scalar", "data": "scalar"}
_ERROR: dict[str, Any] = {"code": "scalar", "message": "scalar", "field": "scalar"}
SCHEMA: dict[str, Any] = {
    "project_id": "scalar",
    "general": {"project_id": "scalar", "payment_id": "scalar", "signature": "scalar"},
    "payment": _PAYMENT,
    "operation": _OPERATION,
    "customer": {"id": "scalar", "phone": "scalar", "email": "scalar"},
    "errors": ("list", _ERROR),
    "display_data": ("list", _ITEM),
    "redirect_data": {"url": "scalar", "method": "scalar", "body": "form"},
    "clarification_fields": "fields",
}


def _refuse(path: str, what: str) -> CallbackShapeError:
    return CallbackShapeError(f"'{path}' is not {what} as in every genuine callback")


def _check(node: Any, schema: dict[str, Any], where: str) -> None:
    for key, spec in schema.items():
        if key not in node:
            continue
        value = node[key]
        path = f"{where}.{key}" if where else key
        if spec == "scalar":
            if not isinstance(value, _SCALARS):
                raise _refuse(path, "a plain value")
        elif spec == "int":
            if type(value) is not int:
                raise _refuse(path, "an integer")
        elif spec == "fields":
            # {"customer": ["phone", "email"]} or a JSON schema per object: never plain text.
            if value == []:
                continue
            if type(value) is not dict:
                raise _refuse(path, "an object")
            for name, group in value.items():
                if type(group) is list:
                    if not all(isinstance(item, _SCALARS) for item in group):
                        raise _refuse(f"{path}.{name}", "a list of field names")
                elif type(group) is not dict:
                    raise _refuse(f"{path}.{name}", "a list of field names or a schema")
        elif spec == "form":
            if value == []:
                continue
            if type(value) is not dict:
                raise _refuse(path, "an object")
            for name, field in value.items():
                if not isinstance(field, _SCALARS):
                    raise _refuse(f"{path}.{name}", "a plain value")
        elif type(spec) is tuple:
            if type(value) is not list:
                raise _refuse(path, "a list")
            for index, item in enumerate(value):
                if type(item) is not dict:
                    raise _refuse(f"{path}[{index}]", "an object")
                _check(item, spec[1], f"{path}[{index}]")
        else:
            # An empty object may come as [] (PHP encodes empty arrays so); it has no leaves.
            if type(value) is dict:
                _check(value, spec, path)
            elif value != [] and value is not None:
                raise _refuse(path, "an object")


def check_shape(payload: dict[str, Any]) -> None:
    """Refuse a verified payload whose known fields are shaped unlike any genuine callback."""
    _check(payload, SCHEMA, "")
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
