"""One Omise account, one country: the account check against recorded ``GET /capability`` answers,
and the QR charges Omise records, read without a network."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux import AsyncGateway, ChargeStatus, DisplayQrCode, Gateway, Money
from paymux.errors import ConfigurationError, ProviderError
from paymux.provider import ChargeLookup
from paymux.runner import RetryPolicy
from paymux.testing import run_flow
from paymux_omise.responses import parse_charge

OFFICIAL = Path(__file__).parent / "data" / "official"
NO_RETRY = RetryPolicy(attempts=1)


def _recorded(name: str) -> Any:
    """A recorded Omise answer (data/official/SOURCES.tsv names where each comes from)."""
    return json.loads((OFFICIAL / f"{name}.json").read_text())


def _answering(payload: Any) -> Any:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=payload)

    return handler, asked


def test_a_thai_account_matches_thai_settings(kit: Any) -> None:
    # omise-php's recorded answer: a TH account with kakaopay and promptpay in THB.
    handler, asked = _answering(_recorded("php-capability-get"))
    checked = run_flow(kit.provider(country="TH").check_account(), handler)
    assert asked == ["GET /capability"]
    assert checked == {"country": "TH", "currency": "THB", "methods": "kakaopay, promptpay"}


def test_a_thai_account_configured_as_singapore_is_named(kit: Any) -> None:
    handler, _ = _answering(_recorded("php-capability-get"))
    with pytest.raises(ConfigurationError) as caught:
        run_flow(kit.provider(country="SG").check_account(), handler)
    assert "it is a TH account, the settings say country = 'SG'" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kakaopay": ["SGD"]}, "it takes kakaopay in SGD, not THB"),
        ({"promptpay": None}, "it does not offer promptpay"),
    ],
)
def test_each_method_currency_mismatch_is_named(
    kit: Any, change: dict[str, list[str] | None], problem: str
) -> None:
    answer = copy.deepcopy(_recorded("php-capability-get"))
    methods = []
    for method in answer["payment_methods"]:
        if method["name"] in change:
            if change[method["name"]] is None:
                continue
            method["currencies"] = change[method["name"]]
        methods.append(method)
    answer["payment_methods"] = methods
    handler, _ = _answering(answer)
    with pytest.raises(ConfigurationError, match=problem):
        run_flow(kit.provider(country="TH").check_account(), handler)


def test_an_unreadable_capability_is_a_provider_error_not_a_crash(kit: Any) -> None:
    handler, _ = _answering({"object": "capability", "country": "TH", "payment_methods": "x"})
    with pytest.raises(ProviderError) as caught:
        run_flow(kit.provider(country="TH").check_account(), handler)
    assert caught.value.code == "invalid_response"


def test_recorded_paynow_charge_asks_for_its_qr_code() -> None:
    # omise-go's recorded PayNow charge: pending, flow offline, a scannable_code image.
    raw = _recorded("go-charge-paynow-offline-get")
    charge = parse_charge(raw, "omise")
    assert (charge.method, charge.status) == ("paynow", ChargeStatus.REQUIRES_ACTION)
    assert charge.provider_data["flow"] == "offline"
    qr = charge.next_action
    assert isinstance(qr, DisplayQrCode)
    assert qr.image_url == raw["source"]["scannable_code"]["image"]["download_uri"]
    assert qr.expires_at is not None and qr.expires_at.isoformat() == "2021-05-24T10:53:59+00:00"


def _create_paynow(kit: Any, handler: Any) -> Any:
    request = kit.request(method="paynow", amount=Money(400000, "SGD"), return_urls=None)
    return run_flow(kit.provider(dedupe_by_reference=False).create_charge(request), handler)


def test_creating_a_qr_charge_fetches_its_image_without_credentials(kit: Any) -> None:
    raw = _recorded("go-charge-paynow-offline-get")
    image = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/charges":
            return httpx.Response(200, json=raw)
        return httpx.Response(200, content=image, headers={"content-type": "image/png"})

    charge = _create_paynow(kit, handler)
    assert [r.method for r in seen] == ["POST", "GET"]
    download = seen[-1]
    assert str(download.url) == raw["source"]["scannable_code"]["image"]["download_uri"]
    assert "authorization" not in download.headers, "a key never follows a URL from an answer"
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_png == image


@pytest.mark.parametrize(
    ("status", "body"), [(404, b'{"object":"error"}'), (200, b"<html>not an image</html>")]
)
def test_a_qr_image_that_cannot_be_had_leaves_the_link(kit: Any, status: int, body: bytes) -> None:
    raw = _recorded("go-charge-paynow-offline-get")

    def handler(request: httpx.Request) -> httpx.Response:
        if "documents" in request.url.path:
            return httpx.Response(status, content=body)
        return httpx.Response(200, json=raw)

    charge = _create_paynow(kit, handler)
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_png is None
    assert charge.next_action.image_url is not None


def test_a_qr_image_link_to_another_plain_http_host_is_not_followed(kit: Any) -> None:
    raw = copy.deepcopy(_recorded("go-charge-paynow-offline-get"))
    raw["source"]["scannable_code"]["image"]["download_uri"] = "http://elsewhere.example/qr.png"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.omise.co"
        return httpx.Response(200, json=raw)

    charge = _create_paynow(kit, handler)
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_png is None


def test_retrieving_a_qr_charge_is_one_read(kit: Any) -> None:
    # The ledger polls pending charges: a poll must not download the image every time.
    raw = _recorded("go-charge-paynow-offline-get")
    handler, asked = _answering(raw)
    charge = run_flow(kit.provider().retrieve_charge(ChargeLookup(charge_id=raw["id"])), handler)
    assert asked == [f"GET /charges/{raw['id']}"]
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_url is not None


def test_qr_charges_need_no_return_url_and_send_none(kit: Any) -> None:
    request = kit.request(
        method="promptpay", country="TH", amount=Money(2_000, "THB"), return_urls=None
    )
    flow = kit.provider(country="TH", dedupe_by_reference=False).create_charge(request)
    sent = next(flow)
    body = json.loads(sent.content)
    assert body["source"] == {"type": "promptpay"}
    assert "return_uri" not in body
    flow.close()


def test_a_lost_qr_image_download_never_hides_the_created_charge(kit: Any) -> None:
    # The network fails on the image after Omise created the charge: the create must still
    # answer with the charge, never a TransportError that reads as "nothing was created".
    raw = _recorded("go-charge-paynow-offline-get")
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.url.path == "/charges":
            return httpx.Response(200, json=raw)
        raise httpx.ConnectError("connection refused", request=request)

    provider = kit.provider(dedupe_by_reference=False)
    request = kit.request(method="paynow", amount=Money(400000, "SGD"), return_urls=None)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    with Gateway(providers={"omise": provider}, http_client=client, retry=NO_RETRY) as gateway:
        charge = gateway.create_charge(request)
    assert sent[0] == "POST /charges" and sent[-1].endswith("/downloads/542F307C03299822")
    assert charge.id == raw["id"]
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_png is None
    assert charge.next_action.image_url is not None


async def test_a_lost_qr_image_download_never_hides_the_created_charge_async(kit: Any) -> None:
    raw = _recorded("go-charge-paynow-offline-get")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/charges":
            return httpx.Response(200, json=raw)
        raise httpx.ReadTimeout("no answer", request=request)

    provider = kit.provider(dedupe_by_reference=False)
    request = kit.request(method="paynow", amount=Money(400000, "SGD"), return_urls=None)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with AsyncGateway(
        providers={"omise": provider}, http_client=client, retry=NO_RETRY
    ) as gateway:
        charge = await gateway.create_charge(request)
    assert charge.id == raw["id"]
    assert isinstance(charge.next_action, DisplayQrCode)
    assert charge.next_action.image_png is None
