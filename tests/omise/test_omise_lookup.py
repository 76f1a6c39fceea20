"""Look-ups by reference: every search page, exact matches only, a miss confirmed from the
charge list (which does not lag) before it counts as certain. Flows driven without a network."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.errors import NotFound, OutcomeUnknown, ProviderError
from paymux.provider import ChargeLookup
from paymux.testing import run_flow
from paymux_omise import provider_search


def _charge(kit: Any, charge_id: str, reference: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(kit.load("seed004_charge_kakaopay_pending"))
    data["id"] = charge_id
    data["metadata"] = {"paymux_reference": reference}
    return data


def _search(page: int, total_pages: int, items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "object": "search",
            "scope": "charge",
            "page": page,
            "per_page": 30,
            "total_pages": total_pages,
            "total": len(items),
            "data": items,
        },
    )


def _list(offset: int, total: int, items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(
        200,
        json={"object": "list", "offset": offset, "limit": 100, "total": total, "data": items},
    )


class Omise:
    """Answers search pages and list pages from fixed contents; records what was asked."""

    def __init__(
        self, search: list[list[dict[str, Any]]], listed: list[list[dict[str, Any]]]
    ) -> None:
        self.search = search
        self.listed = listed
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if request.url.path == "/search":
            page = int(params.get("page", "1"))
            self.asked.append(f"search:{page}")
            return _search(page, len(self.search), self.search[page - 1])
        if request.method == "GET" and request.url.path == "/charges":
            offset = int(params["offset"])
            self.asked.append(f"list:{offset}")
            total = sum(len(p) for p in self.listed)
            return _list(offset, total, self.listed[offset // 100] if self.listed else [])
        if request.method == "POST" and request.url.path == "/charges":
            self.asked.append("create")
            body = json.loads(request.content)
            made = {**self.listed[0][0]} if self.listed and self.listed[0] else {}
            made.update(metadata=body["metadata"])
            return httpx.Response(200, json=made)
        raise AssertionError(f"unexpected {request.method} {request.url}")


def _lookup(kit: Any, omise: Callable[[httpx.Request], httpx.Response], reference: str) -> Any:
    return run_flow(kit.provider().retrieve_charge(ChargeLookup(reference=reference)), omise)


def test_every_search_page_is_read_and_only_the_exact_reference_counts(kit: Any) -> None:
    # Whole-word search: "order-1" also finds "Order-1" and "order-1-b"; the match is on page 3.
    near = [_charge(kit, f"chrg_test_near{i}", "Order-1") for i in range(30)]
    more = [_charge(kit, f"chrg_test_more{i}", "order-1-b") for i in range(30)]
    ours = _charge(kit, "chrg_test_ours", "order-1")
    omise = Omise([near, more, [ours]], [])
    found = _lookup(kit, omise, "order-1")
    assert found.id == "chrg_test_ours"
    assert omise.asked == ["search:1", "search:2", "search:3"]


def test_a_search_miss_is_confirmed_from_every_page_of_the_recent_charge_list(kit: Any) -> None:
    others = [_charge(kit, f"chrg_test_o{i}", f"other-{i}") for i in range(100)]
    lagging = _charge(kit, "chrg_test_lagging", "order-2")
    omise = Omise([[]], [others, [lagging]])
    found = _lookup(kit, omise, "order-2")
    assert found.id == "chrg_test_lagging"
    assert omise.asked == ["search:1", "list:0", "list:100"]


def test_a_miss_in_search_and_list_is_certain(kit: Any) -> None:
    omise = Omise([[]], [[_charge(kit, "chrg_test_x", "ORDER-3")]])
    with pytest.raises(NotFound) as caught:
        _lookup(kit, omise, "order-3")
    assert caught.value.conclusive
    assert omise.asked == ["search:1", "list:0"]


def test_a_search_with_more_pages_than_paymux_reads_is_not_certain(
    kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_search, "MAX_PAGES", 2)
    omise = Omise([[], [], []], [])
    with pytest.raises(NotFound) as caught:
        _lookup(kit, omise, "order-4")
    assert not caught.value.conclusive
    assert omise.asked == ["search:1", "search:2", "list:0"]
    # ... and a create never goes ahead on an uncertain miss.
    with pytest.raises(OutcomeUnknown):
        run_flow(kit.provider().create_charge(kit.request(reference="order-4")), omise)
    assert "create" not in omise.asked


def test_the_list_starts_search_lag_before_now(kit: Any) -> None:
    asked: list[httpx.Request] = []

    def omise(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.path == "/search":
            return _search(1, 0, [])
        return _list(0, 0, [])

    with pytest.raises(NotFound):
        run_flow(
            kit.provider(search_lag="PT90S").retrieve_charge(ChargeLookup(reference="o-5")), omise
        )
    listing = asked[-1].url.params
    assert (listing["from"], listing["order"], listing["limit"]) == (
        "2026-03-10T09:58:30Z",
        "chronological",
        "100",
    )


def test_a_repeated_reference_returns_that_attempt_even_when_it_failed(kit: Any) -> None:
    failed = copy.deepcopy(kit.load("charge_kakaopay_failed_payment_rejected"))
    failed["metadata"] = {"paymux_reference": "order-6"}
    failed["amount"], failed["currency"] = 150000, "SGD"
    omise = Omise([[failed]], [])
    again = run_flow(kit.provider().create_charge(kit.request(reference="order-6")), omise)
    assert (again.id, again.status.value) == (failed["id"], "failed")
    assert "create" not in omise.asked


# -- property: only the exact reference is ever found, and only an absent one is NotFound ----------

_ALPHABET = "abcXYZ019.-_:"


def _near_misses(reference: str) -> st.SearchStrategy[str]:
    """References a whole-word, any-case search would also return for ``reference``."""
    return st.sampled_from(
        [
            reference.upper(),
            reference.swapcase(),
            f"{reference}-2",
            f"{reference}.1",
            f"x-{reference}",
        ]
    ).filter(lambda other: other != reference)


@st.composite
def _books(draw: st.DrawFn) -> tuple[str, list[tuple[str, bool]], bool]:
    """A reference; Omise's charges as (reference, visible in the search yet); whether ours is
    among them."""
    reference = draw(st.text(_ALPHABET, min_size=1, max_size=12))
    others = draw(st.lists(_near_misses(reference), max_size=130))
    charges = [(other, draw(st.booleans())) for other in others]
    present = draw(st.booleans())
    if present:
        position = draw(st.integers(0, len(charges)))
        charges.insert(position, (reference, draw(st.booleans())))
    return reference, charges, present


@settings(max_examples=200, deadline=None)
@given(_books())
def test_a_look_up_finds_exactly_its_reference_or_a_certain_miss(
    kit: Any, books: tuple[str, list[tuple[str, bool]], bool]
) -> None:
    reference, charges, present = books
    made = [_charge(kit, f"chrg_test_{i}", ref) for i, (ref, _) in enumerate(charges)]
    visible = [c for c, (_, seen) in zip(made, charges, strict=True) if seen]
    search_pages = [visible[i : i + 30] for i in range(0, len(visible), 30)] or [[]]
    list_pages = [made[i : i + 100] for i in range(0, len(made), 100)]
    omise = Omise(search_pages, list_pages)
    if present:
        found = _lookup(kit, omise, reference)
        assert found.reference == reference
        assert found.id == made[[r for r, _ in charges].index(reference)]["id"]
    else:
        with pytest.raises(NotFound) as caught:
            _lookup(kit, omise, reference)
        assert caught.value.conclusive


@pytest.mark.parametrize("failing", ["/search", "/charges"])
def test_a_look_up_endpoint_that_is_not_found_is_never_a_certain_miss(
    kit: Any, failing: str
) -> None:
    def omise(request: httpx.Request) -> httpx.Response:
        if request.url.path == failing:
            return httpx.Response(404, text="<html>Not Found</html>")
        if request.url.path == "/search":
            return _search(1, 0, [])
        return _list(0, 0, [])

    with pytest.raises(ProviderError) as caught:
        _lookup(kit, omise, "order-7")
    assert not isinstance(caught.value, NotFound)
