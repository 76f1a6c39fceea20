"""Bounds on the work a webhook body can cause before its signature is checked.

Anybody on the internet can post to a checkout's webhook endpoint. Until a body is proven to come
from the provider, what it may cost is capped: its size (checked first, on the bytes), then its
nesting depth and leaf count (checked on the parsed JSON before any provider flattens, sorts or
translates it). A body over a cap is refused with :class:`WebhookTooLarge`, a
``WebhookVerificationError``: it is not a callback paymux will read.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import WebhookVerificationError


class WebhookLimits(BaseModel):
    """Caps on an unverified webhook body. The defaults are far above any real callback
    (ECommPay's and Omise's are a few KiB, a few levels deep, under a hundred leaves)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: int = Field(default=256 * 1024, gt=0)
    max_depth: int = Field(default=32, gt=0)
    max_leaves: int = Field(default=5_000, gt=0)
    """Values of any kind (scalars, objects, lists): an upper bound on the signed leaves."""


DEFAULT_LIMITS = WebhookLimits()


class WebhookTooLarge(WebhookVerificationError):
    """The body is bigger, deeper or has more leaves than the limits allow."""


def check_size(body: bytes, limits: WebhookLimits = DEFAULT_LIMITS) -> None:
    if len(body) > limits.max_bytes:
        raise WebhookTooLarge(
            f"the body has {len(body):,} bytes, more than the {limits.max_bytes:,} allowed"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def check_structure(document: Any, limits: WebhookLimits = DEFAULT_LIMITS) -> None:
    """Refuse ``document`` (parsed JSON) if it nests deeper or has more values than allowed.

    Walks iteratively and stops at the first excess, so the cost is bounded by the limits, not
    by the document.
    """
    # Every value counts (containers too): a container's children are counted before they are
    # visited, so a list of a million items is refused on its length alone.
    values = 1
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if depth >= limits.max_depth:
                raise WebhookTooLarge(f"the body nests deeper than {limits.max_depth} levels")
            values += len(node)
            if values > limits.max_leaves:
                raise WebhookTooLarge(f"the body has more than {limits.max_leaves:,} values")
            children = node.values() if kind is dict else node
            stack.extend((child, depth + 1) for child in children)


def _surely_within(body: bytes, limits: WebhookLimits) -> bool:
    # Upper bounds from byte counts (quotes inside strings only make them larger): every value
    # but the first of a container follows a comma, and nesting needs an opening bracket per
    # level. Real callbacks pass this at C speed, so only suspicious bodies are walked.
    opening = body.count(b"{") + body.count(b"[")
    if opening > limits.max_depth:
        return False
    # Every value starts at a byte of its own, so a body no longer than the cap is within it
    # (a typical callback): no need to count its commas.
    return len(body) <= limits.max_leaves or body.count(b",") + opening + 1 <= limits.max_leaves


def load_json(body: bytes, limits: WebhookLimits = DEFAULT_LIMITS) -> Any:
    """``body`` parsed as strict JSON (no NaN/Infinity) within ``limits``.

    Raises :class:`WebhookTooLarge` over a limit and ``WebhookVerificationError`` for anything
    that is not JSON.
    """
    check_size(body, limits)
    try:
        # One decoder for every call: json.loads with an option builds a new one each time.
        # Callbacks are UTF-8 JSON objects; anything else is told apart as json.loads does.
        encoding = "utf-8" if body[:1] == b"{" else json.detect_encoding(body)
        document = _DECODER.decode(body.decode(encoding, "surrogatepass"))
    except RecursionError:
        raise WebhookTooLarge("the body nests too deeply to be read") from None
    except (ValueError, TypeError):
        raise WebhookVerificationError("the body is not JSON, so it cannot be verified") from None
    if not _surely_within(body, limits):
        check_structure(document, limits)
    return document
