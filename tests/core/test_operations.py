"""Gateway.cancel_charge / list_charges / list_refunds / retrieve_refund and Charge.metadata.

The provider side is an httpx.MockTransport answering as Omise does (payloads built from the
repository's Omise test data, ``tests/omise/data``), so every request paymux sends is seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from any_argument import any_argument
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux import (
    AsyncGateway,
    Charge,
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Money,
    ReturnUrls,
)
from paymux.errors import InvalidRequest, NotFound, OperationNotSupported, PaymuxError
from paymux.provider import no_io
from paymux.runner import RetryPolicy

OMISE_DATA = Path(__file__).parents[1] / "omise" / "data"
FAST = RetryPolicy(attempts=1)
OMISE = {"public_key": "pkey_test_ops", "secret_key": "skey_test_ops", "country": "SG"}
ECOMMPAY = {"project_id": 210, "secret_key": "ecommpay-secret-for-tests"}


def _charge(number: int, status: str = "pending", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OMISE_DATA / "charge_kakaopay_pending.json").read_text())
    data = copy.deepcopy(data)
    data.update(
        id=f"chrg_test_{number:05d}",
        status=status,
        created_at=f"2026-03-10T0{number % 10}:00:00Z",
        metadata={"paymux_reference": f"order-{number}", "order": str(number)},
    )
    data.update(extra)
    if status != "pending":
        data["authorize_uri"] = None
    return data


def _refund(number: int, charge_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OMISE_DATA / "refund_closed.json").read_text())
    return {**data, "id": f"rfnd_test_{number:05d}", "charge": charge_id, "amount": 100}


class FakeOmise:
    """Answers the Omise endpoints the operations use; records every request."""

    def __init__(self, charges: list[dict[str, Any]], refunds: int = 0) -> None:
        self.charges = charges
        self.refunds = [_refund(i, charges[0]["id"]) for i in range(refunds)] if charges else []
        self.seen: list[httpx.Request] = []

    def _list(self, items: list[dict[str, Any]], request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        limit = int(request.url.params.get("limit", "20"))
        # Omise's own page size is at most 100; answer smaller pages to make paging visible.
        limit = min(limit, 2)
        page = items[offset : offset + limit]
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": page,
                "offset": offset,
                "limit": limit,
                "total": len(items),
            },
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/charges":
            return self._list(self.charges, request)
        if request.method == "POST" and path.endswith("/expire"):
            charge = next(c for c in self.charges if path == f"/charges/{c['id']}/expire")
            charge.update(status="expired", expired=True, authorize_uri=None)
            return httpx.Response(200, json=charge)
        if request.method == "GET" and path.endswith("/refunds"):
            return self._list(self.refunds, request)
        if request.method == "GET" and "/refunds/" in path:
            found = [r for r in self.refunds if path.endswith(f"/refunds/{r['id']}")]
            if not found:
                return httpx.Response(
                    404,
                    json={"object": "error", "code": "not_found", "message": "refund not found"},
                )
            return httpx.Response(200, json=found[0])
        if request.method == "POST" and path == "/charges":
            body = json.loads(request.content)
            made = _charge(len(self.charges) + 1, metadata=body["metadata"])
            self.charges.append(made)
            return httpx.Response(200, json=made)
        if request.method == "GET" and path == "/search":
            return httpx.Response(
                200, json={"object": "search", "data": [], "page": 1, "total_pages": 1}
            )
        return httpx.Response(404, json={"object": "error", "code": "not_found", "message": path})


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"nothing should reach the network: {request.method} {request.url}")


@pytest.fixture
def fake() -> FakeOmise:
    return FakeOmise([_charge(i) for i in range(1, 6)], refunds=3)


@pytest.fixture
def gw(fake: FakeOmise) -> Iterator[Gateway]:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    with Gateway(
        providers={"omise": OMISE, "ecommpay": ECOMMPAY}, http_client=client, retry=FAST
    ) as gateway:
        yield gateway


@pytest.fixture
def offline() -> Iterator[Gateway]:
    client = httpx.Client(transport=httpx.MockTransport(_refuse))
    with Gateway(
        providers={"omise": OMISE, "ecommpay": ECOMMPAY}, http_client=client, retry=FAST
    ) as gateway:
        yield gateway


def _open(provider: str = "omise", method: str = "kakaopay", **extra: Any) -> Charge:
    values: dict[str, Any] = {
        "provider": provider,
        "id": "chrg_test_00001" if provider == "omise" else "order-1",
        "reference": "order-1",
        "amount": Money(1500, "SGD") if provider == "omise" else Money(1000, "KRW"),
        "method": method,
        "status": ChargeStatus.REQUIRES_ACTION,
    }
    return Charge(**{**values, **extra})


# -- capabilities -------------------------------------------------------------------------------


def test_capabilities_declare_the_operations(offline: Gateway) -> None:
    by_provider = {(c.provider, c.method): set(c.operations) for c in offline.capabilities()}
    assert by_provider[("omise", "kakaopay")] == {
        "cancel_charge",
        "list_charges",
        "list_refunds",
        "retrieve_refund",
    }
    for method in ("kakaopay", "payco", "card"):
        assert by_provider[("ecommpay", method)] == {"list_refunds", "retrieve_refund"}


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        (lambda gw: gw.cancel_charge(_open("ecommpay")), "cancel_charge"),
        (lambda gw: gw.list_charges("ecommpay"), "list_charges"),
        (lambda gw: gw.list_refunds(_open("omise", method="card")), "list_refunds"),
    ],
    ids=["ecommpay-cancel", "ecommpay-list", "omise-card-refunds"],
)
def test_an_undeclared_operation_is_refused_before_the_network(
    offline: Gateway, call: Callable[[Gateway], Any], operation: str
) -> None:
    with pytest.raises(OperationNotSupported) as caught:
        call(offline)
    assert caught.value.operation == operation
    assert isinstance(caught.value, PaymuxError)


# -- cancel -------------------------------------------------------------------------------------


def test_cancel_expires_the_omise_charge(gw: Gateway, fake: FakeOmise) -> None:
    canceled = gw.cancel_charge(_open())
    assert canceled.status is ChargeStatus.EXPIRED
    assert canceled.next_action is None
    assert [(r.method, r.url.path) for r in fake.seen] == [
        ("POST", "/charges/chrg_test_00001/expire")
    ]


@pytest.mark.parametrize(
    "status", [ChargeStatus.SUCCEEDED, ChargeStatus.EXPIRED, ChargeStatus.REFUNDED]
)
def test_a_final_charge_is_not_canceled(offline: Gateway, status: ChargeStatus) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline.cancel_charge(_open(status=status))
    assert caught.value.field == "charge"


def test_cancel_needs_a_charge(offline: Gateway) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline.cancel_charge("chrg_test_00001")  # type: ignore[arg-type]
    assert caught.value.field == "charge"


# -- list_charges -------------------------------------------------------------------------------


def test_list_reads_every_page_lazily(gw: Gateway, fake: FakeOmise) -> None:
    listing = gw.list_charges("omise")
    assert fake.seen == []  # nothing is read until the iterator is
    first = next(listing)
    assert first.id == "chrg_test_00001"
    assert len(fake.seen) == 1
    rest = list(listing)
    assert [c.id for c in [first, *rest]] == [f"chrg_test_{i:05d}" for i in range(1, 6)]
    assert [r.url.params["offset"] for r in fake.seen] == ["0", "2", "4"]
    assert all(r.url.params["order"] == "chronological" for r in fake.seen)
    assert first.metadata == {"order": "1"}  # paymux's own key stays out


def test_list_sends_the_window_and_filters_by_status(gw: Gateway, fake: FakeOmise) -> None:
    fake.charges[1]["status"] = "successful"
    fake.charges[1]["authorize_uri"] = None
    since = datetime(2026, 3, 10, 1, tzinfo=UTC)
    until = since + timedelta(hours=3)
    found = list(gw.list_charges("omise", since=since, until=until, status="succeeded"))
    assert [c.id for c in found] == ["chrg_test_00002"]
    params = fake.seen[0].url.params
    assert (params["from"], params["to"]) == ("2026-03-10T01:00:00Z", "2026-03-10T04:00:00Z")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"since": datetime(2026, 3, 10)}, "since"),
        ({"until": "2026-03-10"}, "until"),
        (
            {"since": datetime(2026, 3, 10, tzinfo=UTC), "until": datetime(2026, 3, 9, tzinfo=UTC)},
            "until",
        ),
        ({"status": "paid"}, "status"),
        ({"status": []}, "status"),
        ({"status": 3}, "status"),
    ],
)
def test_list_arguments_are_checked_at_the_call(
    offline: Gateway, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline.list_charges("omise", **arguments)
    assert caught.value.field == field


def test_async_list_is_an_async_iterator(fake: FakeOmise) -> None:
    async def scenario() -> list[str]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        async with AsyncGateway(providers={"omise": OMISE}, http_client=client, retry=FAST) as gw:
            with pytest.raises(InvalidRequest):
                gw.list_charges("omise", status="nope")
            found = [c.id async for c in gw.list_charges("omise", status=["requires_action"])]
            canceled = await gw.cancel_charge(_open())
            refunds = await gw.list_refunds(_open())
            one = await gw.retrieve_refund(_open(), "rfnd_test_00001")
            assert canceled.status is ChargeStatus.EXPIRED
            assert len(refunds) == 3 and one.id == "rfnd_test_00001"
            return found

    assert asyncio.run(scenario()) == [f"chrg_test_{i:05d}" for i in range(1, 6)]


# -- refunds ------------------------------------------------------------------------------------


def test_list_refunds_reads_every_page(gw: Gateway, fake: FakeOmise) -> None:
    refunds = gw.list_refunds(_open())
    assert [r.id for r in refunds] == ["rfnd_test_00000", "rfnd_test_00001", "rfnd_test_00002"]
    assert [r.url.path for r in fake.seen] == ["/charges/chrg_test_00001/refunds"] * 2


def test_retrieve_refund(gw: Gateway) -> None:
    refund = gw.retrieve_refund(_open(), "rfnd_test_00002")
    assert refund.charge_id == "chrg_test_00001"
    with pytest.raises(NotFound):
        gw.retrieve_refund(_open(), "rfnd_test_99999")


@pytest.mark.parametrize("refund_id", ["", "../charges", "a/b", "x" * 256, 7])
def test_a_refund_id_is_checked_before_the_network(offline: Gateway, refund_id: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline.retrieve_refund(_open(), refund_id)
    assert caught.value.field == "refund_id"


# -- metadata -----------------------------------------------------------------------------------


def _request(**extra: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "reference": "order-9",
        "amount": Money(1500, "SGD"),
        "method": "kakaopay",
        "country": "SG",
        "customer": Customer(id="c-1"),
        "return_urls": ReturnUrls(success="https://shop.example/ok"),
    }
    return ChargeRequest(**{**values, **extra})


def test_metadata_goes_to_omise_beside_the_reference(fake: FakeOmise) -> None:
    with Gateway(
        providers={"omise": {**OMISE, "dedupe_by_reference": False}},
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        retry=FAST,
    ) as plain:
        charge = plain.create_charge(_request(metadata={"order": "9", "note": "gift"}))
    sent = json.loads(fake.seen[-1].content)
    assert sent["metadata"] == {"order": "9", "note": "gift", "paymux_reference": "order-9"}
    assert charge.metadata == {"order": "9", "note": "gift"}
    assert charge.reference == "order-9"


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(21)},
        {"k" * 41: "v"},
        {"": "v"},
        {"clé": "v"},
        {"paymux_reference": "mine"},
        {"paymux_anything": "mine"},
        {"note": "v" * 501},
        {"note": "line\nbreak"},
        {"tab\tkey": "v"},
    ],
    ids=[
        "21-keys",
        "long-key",
        "empty-key",
        "non-ascii-key",
        "reserved-reference",
        "reserved-prefix",
        "long-value",
        "control-in-value",
        "control-in-key",
    ],
)
def test_metadata_limits(metadata: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _request(metadata=metadata)
    assert caught.value.field == "metadata"


def test_metadata_at_the_limits_is_taken() -> None:
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(20)}
    assert _request(metadata=metadata).metadata == metadata


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40),
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=500),
        max_size=20,
    )
)
def test_metadata_within_the_limits_round_trips_on_the_charge(metadata: dict[str, str]) -> None:
    metadata = {k: v for k, v in metadata.items() if not k.startswith("paymux_")}
    request = _request(metadata=metadata)

    def omise(http: httpx.Request) -> httpx.Response:
        body = json.loads(http.content)
        return httpx.Response(200, json=_charge(1, metadata=body["metadata"]))

    with Gateway(
        providers={"omise": {**OMISE, "dedupe_by_reference": False}},
        http_client=httpx.Client(transport=httpx.MockTransport(omise)),
        retry=FAST,
    ) as gw:
        assert gw.create_charge(request).metadata == metadata


def test_a_provider_without_metadata_answers_with_the_request_s(offline: Gateway) -> None:
    from paymux.gateway_checks import with_metadata

    wrapped = with_metadata(no_io(lambda: _open(metadata={})), {"order": "1"})
    with pytest.raises(StopIteration) as done:
        next(wrapped)
    assert done.value.value.metadata == {"order": "1"}


# -- any argument: a result or a typed error, never a raw exception -------------------------------

ANYTHING = any_argument(
    datetime.min.replace(tzinfo=timezone(timedelta(hours=5))), ChargeStatus.FAILED
)


def _not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"object": "error", "code": "not_found", "message": "no"})


@settings(max_examples=200, deadline=None)
@given(provider=ANYTHING, since=ANYTHING, until=ANYTHING, status=ANYTHING)
def test_list_arguments_of_any_shape(provider: Any, since: Any, until: Any, status: Any) -> None:
    client = httpx.Client(transport=httpx.MockTransport(_not_found))
    with Gateway(providers={"omise": OMISE}, http_client=client, retry=FAST) as gw:
        for name in (provider, "omise"):
            with contextlib.suppress(PaymuxError):
                list(gw.list_charges(name, since=since, until=until, status=status))


@settings(max_examples=100, deadline=None)
@given(charge=ANYTHING, refund_id=ANYTHING)
def test_charge_operations_with_arguments_of_any_shape(charge: Any, refund_id: Any) -> None:
    client = httpx.Client(transport=httpx.MockTransport(_not_found))
    with Gateway(providers={"omise": OMISE}, http_client=client, retry=FAST) as gw:
        for call in (
            lambda: gw.cancel_charge(charge),
            lambda: gw.list_refunds(charge),
            lambda: gw.retrieve_refund(charge, refund_id),
            lambda: gw.retrieve_refund(_open(), refund_id),
        ):
            with contextlib.suppress(PaymuxError):
                call()


def test_every_declared_cancel_or_list_is_implemented(offline: Gateway) -> None:
    from paymux.provider import Provider

    for name in offline.providers:
        provider = offline.provider(name)
        declared = {op for c in provider.declared_capabilities() for op in c.operations}
        assert declared <= {"cancel_charge", "list_charges", "list_refunds", "retrieve_refund"}
        for operation in declared & {"cancel_charge", "list_charges"}:
            assert getattr(type(provider), operation) is not getattr(Provider, operation), (
                f"{name} declares {operation} but keeps the refusing default"
            )


def test_omise_does_not_expire_a_redirect_flow_charge(offline: Gateway) -> None:
    charge = _open(provider_data={"flow": "redirect"})
    with pytest.raises(OperationNotSupported, match="redirect"):
        offline.cancel_charge(charge)
