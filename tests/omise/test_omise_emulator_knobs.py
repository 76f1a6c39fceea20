"""The Omise emulator's knobs (search lag and paging, the charge list, late and declined refunds,
answers lost after acting) and its books, checked over loopback with plain httpx and the
official ``omise`` client."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import omise
import pytest
from omise_sandbox import emulator, official_client, sandbox

from paymux.sandbox import Sandbox
from paymux_omise.emulator import SECRET_KEY

__all__ = ["emulator", "official_client", "sandbox"]  # the fixtures, imported for pytest


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    token = base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    with httpx.Client(
        base_url=f"{sandbox.base_url}/omise",
        headers={"Authorization": f"Basic {token}"},
        trust_env=False,
    ) as client:
        yield client


def _charge(api: httpx.Client, reference: str, description: str = "") -> dict[str, Any]:
    response = api.post(
        "/charges",
        json={
            "amount": 10000,
            "currency": "SGD",
            "return_uri": "https://shop.example/r",
            "source": {"type": "kakaopay"},
            "metadata": {"paymux_reference": reference},
            "description": description or reference,
        },
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _search(api: httpx.Client, query: str, page: int = 1) -> dict[str, Any]:
    response = api.get("/search", params={"scope": "charge", "query": query, "page": str(page)})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _paid(emulator: Any, sandbox: Sandbox, charge_id: str) -> None:
    sandbox.hub.act("omise", charge_id, "pay")
    assert emulator.books()[charge_id]["status"] == "successful"


def test_search_pages_by_30_and_matches_whole_words_in_any_case(
    api: httpx.Client, emulator: Any
) -> None:
    made = [_charge(api, f"Pager-{i}", f"Order pager {i}")["id"] for i in range(35)]
    first = _search(api, "pager")
    assert (first["page"], first["per_page"], first["total"], first["total_pages"]) == (
        1,
        30,
        35,
        2,
    )
    second = _search(api, "PAGER", page=2)
    assert len(first["data"]) == 30 and len(second["data"]) == 5
    assert {c["id"] for c in first["data"] + second["data"]} == set(made)
    # Whole words: "pager" finds "Pager-7"; a word's beginning does not.
    assert _search(api, "page")["total"] == 0
    assert {c["id"] for c in _search(api, "pager-7")["data"]} == {made[7]}


def test_search_lags_behind_a_new_charge_the_list_does_not(
    api: httpx.Client, emulator: Any
) -> None:
    emulator.tune(search_lag=120.0)
    charge = _charge(api, "lagging-1")
    assert _search(api, "lagging-1")["total"] == 0
    assert emulator.fault_counts["search_lag_hidden"] == 1
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = api.get("/charges", params={"from": since, "limit": "100"}).json()
    assert charge["id"] in [c["id"] for c in listed["data"]]
    emulator.tune(search_lag=0.0)
    assert _search(api, "lagging-1")["total"] == 0, "the lag belongs to the charge, as indexed"


def test_the_charge_list_filters_by_window_and_pages_by_offset(
    api: httpx.Client, emulator: Any
) -> None:
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = [_charge(api, f"listed-{i}")["id"] for i in range(5)]
    page = api.get("/charges", params={"from": start, "limit": "2", "offset": "2"}).json()
    assert (page["object"], page["limit"], page["offset"]) == ("list", 2, 2)
    assert page["total"] >= 5
    window = api.get("/charges", params={"from": start, "limit": "100"}).json()["data"]
    assert [c["id"] for c in window][-5:] == made  # chronological
    past = api.get("/charges", params={"to": "2000-01-01T00:00:00Z"}).json()
    assert past["total"] == 0


@pytest.mark.parametrize("endpoint", ["charges", "sources", "refunds"])
def test_a_lost_answer_comes_after_the_emulator_acted(
    api: httpx.Client, emulator: Any, sandbox: Sandbox, endpoint: str
) -> None:
    charge = _charge(api, f"lost-{endpoint}")
    _paid(emulator, sandbox, charge["id"])
    before = emulator.books()
    sources_before = len(emulator.sources)
    emulator.tune(lose_answers={endpoint: 1})
    writes = {
        "charges": lambda: _charge(api, "lost-charge-2"),
        "sources": lambda: api.post(
            "/sources", json={"type": "kakaopay", "amount": 10000, "currency": "SGD"}
        ),
        "refunds": lambda: api.post(f"/charges/{charge['id']}/refunds", json={"amount": 100}),
    }
    with pytest.raises(httpx.TransportError):
        writes[endpoint]()
    after = emulator.books()
    assert emulator.fault_counts[f"answer_lost:{endpoint}"] == 1
    if endpoint == "charges":
        assert [
            c["metadata"]["paymux_reference"] for c in after.values() if c["id"] not in before
        ] == ["lost-charge-2"]
    elif endpoint == "sources":
        assert len(emulator.sources) == sources_before + 1
    else:
        assert after[charge["id"]]["refunded_amount"] == 100
    assert emulator.knobs.lose_answers[endpoint] == 0  # one-shot


def test_a_late_refund_is_pending_until_it_closes_then_its_webhook_is_sent(
    api: httpx.Client, emulator: Any, sandbox: Sandbox
) -> None:
    charge = _charge(api, "late-refund")
    _paid(emulator, sandbox, charge["id"])
    emulator.tune(refund_delay=600.0)
    refund = api.post(f"/charges/{charge['id']}/refunds", json={"amount": 4000}).json()
    assert refund["status"] == "pending"
    assert emulator.books()[charge["id"]]["refunded_amount"] == 0
    # The pending refund is spoken for: only 6,000 is left to refund.
    over = api.post(f"/charges/{charge['id']}/refunds", json={"amount": 7000})
    assert over.json()["code"] == "failed_refund"
    sent = len(sandbox.hub.inbox("omise"))
    assert emulator.close_late_refunds() == 1
    assert emulator.books()[charge["id"]]["refunded_amount"] == 4000
    closed = api.get(f"/charges/{charge['id']}/refunds/{refund['id']}").json()
    assert closed["status"] == "closed"
    assert sandbox.hub.callbacks.wait_idle()
    assert any(refund["id"].encode() in c.body for c in sandbox.hub.inbox("omise")[sent:])
    assert emulator.fault_counts["refund_late"] == 1


def test_a_declined_refund_refunds_nothing(
    api: httpx.Client, emulator: Any, sandbox: Sandbox
) -> None:
    charge = _charge(api, "declined-refund")
    _paid(emulator, sandbox, charge["id"])
    emulator.tune(decline_refunds=1)
    refused = api.post(f"/charges/{charge['id']}/refunds", json={"amount": 1000})
    assert (refused.status_code, refused.json()["code"]) == (400, "failed_refund")
    books = emulator.books()[charge["id"]]
    assert (books["refunded_amount"], books["refunds"]["data"]) == (0, [])
    assert emulator.fault_counts["refund_declined"] == 1
    accepted = api.post(f"/charges/{charge['id']}/refunds", json={"amount": 1000})
    assert accepted.json()["status"] == "closed"


def test_the_books_are_a_copy(api: httpx.Client, emulator: Any) -> None:
    charge = _charge(api, "books-copy")
    emulator.books()[charge["id"]]["amount"] = 1
    assert emulator.books()[charge["id"]]["amount"] == 10000


def test_unknown_knobs_are_refused(emulator: Any) -> None:
    with pytest.raises(ValueError, match="search_lagg"):
        emulator.tune(search_lagg=1.0)


@pytest.mark.usefixtures("official_client")
def test_the_official_client_lists_charges_and_searches(api: httpx.Client) -> None:
    made = _charge(api, "official-list")
    # omise-python sends list parameters as a JSON body, even on GET.
    listed = omise.Charge.list(limit=100, order="reverse_chronological")
    assert made["id"] in [charge.id for charge in listed]
    found = omise.Search.execute("charge", query="official-list")
    assert [charge.id for charge in found] == [made["id"]]
