"""Helpers for testing provider flows without a gateway or a network."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

from ..payload import PayloadError, unreadable_answer
from ..provider import Flow

T = TypeVar("T")


def run_flow(
    flow: Flow[T],
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    provider: str = "provider",
) -> T:
    """Drive ``flow`` to its result, answering each request with ``handler(request)``.

    No retries, no logging: the bare sans-IO contract. ``handler`` may assert on the requests.
    An answer the flow cannot read raises what the gateway raises: ``ProviderError`` with code
    ``invalid_response`` (named ``provider``), not the plugin-internal ``PayloadError``.
    """
    status: int | None = None
    try:
        request = next(flow)
        while True:
            response = handler(request)
            response.request = request
            response.read()
            status = response.status_code
            request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except PayloadError as error:
        raise unreadable_answer(error, provider, status) from None


def no_network(request: httpx.Request) -> httpx.Response:
    """A handler that fails the test if a flow tries to send anything."""
    raise AssertionError(f"the flow tried to send {request.method} {request.url} before validating")
