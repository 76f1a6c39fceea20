"""Finding a charge by its merchant reference: Omise's search, then its recent charge list.

Omise keeps no index of merchant references, so a create that must not be sent twice, and a
retrieval by reference, read pages until the charge turns up or the pages run out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from paymux import Charge
from paymux.errors import NotFound, ProviderError
from paymux.provider import Flow

from .requests import RequestBuilder
from .responses import ChargePage, best_match, decode, list_page, search_page
from .settings import OmiseSettings

MAX_PAGES = 100
"""Pages read per look-up (search or list); past it a miss is reported as not certain."""


def find_by_reference(
    requests: RequestBuilder, settings: OmiseSettings, provider: str, reference: str
) -> Flow[Charge]:
    """The charge made with ``reference``; :class:`NotFound` saying whether a miss is certain.

    Every page of the search, exact matches only; then, because the search lags behind new
    charges, every page of the charge list for the last ``search_lag``.
    """
    since = settings.now() - settings.search_lag
    matches, complete = yield from _pages(
        provider,
        1,
        lambda page: requests.search_charges(reference, page),
        lambda data: search_page(data, reference, provider),
    )
    charge = best_match(matches)
    if charge is not None:
        return charge
    listed, listed_whole = yield from _pages(
        provider,
        0,
        lambda offset: requests.list_charges(since, offset),
        lambda data: list_page(data, reference, provider),
    )
    matches += listed
    complete = complete and listed_whole
    charge = best_match(matches)
    if charge is not None:
        return charge
    raise NotFound(
        f"no charge with reference {reference!r}"
        + ("" if complete else " in the pages read (the search had more); it may exist"),
        provider=provider,
        code="not_found",
        conclusive=complete,
    )


def _pages(
    provider: str,
    first: int,
    request_of: Callable[[int], httpx.Request],
    read: Callable[[Any], ChargePage],
) -> Flow[tuple[list[Charge], bool]]:
    """The matches on every page from ``first`` (page number or offset), at most
    ``MAX_PAGES`` of them, and whether the last page was reached."""
    matches: list[Charge] = []
    where: int | None = first
    for _ in range(MAX_PAGES):
        if where is None:
            break
        response = yield request_of(where)
        found = _page(provider, response, read)
        matches += found.matches
        where = found.next
    return matches, where is None


def _page(provider: str, response: httpx.Response, read: Callable[[Any], ChargePage]) -> ChargePage:
    try:
        payload = decode(response, provider)
    except NotFound as missing:
        # The search or the list itself was not found (a proxy, a wrong base_url): that says
        # nothing about the charge, and must not pass for a certain miss.
        raise ProviderError(
            f"{response.request.url.path} answered 'not found': {missing.message}",
            provider=provider,
            code=missing.code,
            http_status=missing.http_status,
        ) from None
    return read(payload)
