"""Argument checks the gateways make before any request, and the small helpers their flows share.

Everything here raises a typed error (``InvalidRequest``, ``ConfigurationError``) on bad input, so
no malformed value reaches a provider's flow or the network.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from .errors import ConfigurationError, InvalidRequest
from .models import Charge, RouteRule
from .provider import Flow
from .status import ChargeStatus
from .text_rules import reference_problem

T = TypeVar("T")
StatusFilter = ChargeStatus | str | Collection[ChargeStatus | str] | None


def with_metadata(flow: Flow[Charge], metadata: Mapping[str, str]) -> Flow[Charge]:
    """``flow``, with ``metadata`` on the answer when the provider keeps none."""
    charge = yield from flow
    if metadata and not charge.metadata:
        return charge.model_copy(update={"metadata": dict(metadata)})
    return charge


def in_utc_range(value: datetime) -> bool:
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def statuses(status: StatusFilter) -> frozenset[ChargeStatus] | None:
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


def route_rule(index: int, raw: Mapping[str, Any]) -> RouteRule:
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


def reference_of(target: Charge | str, reference: str | None) -> str | None:
    """The merchant's reference a look-up concerns, for logs and spans."""
    return target.reference if isinstance(target, Charge) else reference


def check_reference(value: Any, field: str, max_length: int = 64) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"expected text, got {type(value).__name__}", field=field)
    problem = reference_problem(value, max_length)
    if problem is not None:
        raise InvalidRequest(problem, field=field)


def check_client_options(client: Any, kind: type[Any], timeout: Any) -> None:
    if client is not None and not isinstance(client, kind):
        raise ConfigurationError(
            f"http_client must be an {kind.__module__}.{kind.__name__}, got {type(client).__name__}"
        )
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds")


def checked(value: Any, kind: type[T], field: str) -> T:
    if not isinstance(value, kind):
        raise InvalidRequest(f"expected {kind.__name__}, got {type(value).__name__}", field=field)
    return value
