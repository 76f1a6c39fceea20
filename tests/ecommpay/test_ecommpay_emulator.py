"""The ECommPay emulator checks paymux instead of mirroring it.

It signs and verifies with ECommPay's official Python SDK (``ecommpay-sdk`` 1.0.6, module
``payment_page_sdk``), so these tests use that SDK as the oracle: what the emulator sends must pass
the SDK's own ``Callback`` class, and what paymux signs must pass the emulator.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payment_page_sdk.callback import Callback
from payment_page_sdk.process_exception import ProcessException
from payment_page_sdk.signature_handler import SignatureHandler
from PIL import Image

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls
from paymux.errors import ConfigurationError, ProviderError
from paymux.next_action import DisplayQrCode, ProvideInformation
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox
from paymux.sandbox.faults import FaultPlan
from paymux.sandbox.hub import SandboxHub
from paymux.status import RefundStatus
from paymux_ecommpay.emulator import (
    ACCOUNT_HOLDER,
    PROJECT_ID,
    SECRET_KEY,
    EcommpayEmulator,
)
from paymux_ecommpay.signing import signed

ONCE = RetryPolicy(attempts=1)
_counter = iter(range(1, 1_000_000))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(emulators={"ecommpay": EcommpayEmulator}) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[EcommpayEmulator]:
    emulator: Any = sandbox.emulators["ecommpay"]
    yield emulator
    emulator.configure(
        qr="text", qr_empty_first=False, refund_decline=0.0, refund_delay=0.0, refund_hold=False
    )


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    with Gateway(providers=sandbox.provider_settings(), retry=ONCE) as gateway:
        yield gateway


def _ref(kind: str) -> str:
    return f"emu-{kind}-{next(_counter)}-{time.monotonic_ns()}"


def _request(
    method: str, reference: str, *, phone: str | None = None, email: str | None = None
) -> ChargeRequest:
    if method == "card":
        return ChargeRequest(
            reference=reference,
            amount=Money(250_000, "KES"),
            method="card",
            country="KE",
            customer=Customer(id="cust-ke", ip_address="192.0.2.20", phone=phone, email=email),
            return_urls=ReturnUrls(
                success="https://shop.example/ok", decline="https://shop.example/no"
            ),
        )
    return ChargeRequest(
        reference=reference,
        amount=Money(12_000, "KRW"),
        method=method,
        country="KR",
        customer=Customer(id="cust-kr", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success="https://shop.example/ok",
            decline="https://shop.example/no",
            back="https://shop.example/cart",
        ),
        description="Order 1",
    )


def _callbacks(sandbox: Sandbox, payment_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` callbacks about ``payment_id`` that reached the inbox (waits for them)."""
    deadline = time.monotonic() + 10
    while True:
        found = [
            json.loads(c.body)
            for c in sandbox.hub.inbox("ecommpay")
            if json.loads(c.body).get("payment", {}).get("id") == payment_id
        ]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} callbacks for {payment_id}, wanted {count}"
            return found[:count]
        time.sleep(0.01)


def _raw(sandbox: Sandbox, payment_id: str, count: int) -> list[bytes]:
    _callbacks(sandbox, payment_id, count)
    return [
        c.body
        for c in sandbox.hub.inbox("ecommpay")
        if json.loads(c.body).get("payment", {}).get("id") == payment_id
    ][:count]


def _post(sandbox: Sandbox, path: str, body: dict[str, Any], secret: str = SECRET_KEY) -> Any:
    payload = signed(body, secret)
    return httpx.post(f"{sandbox.base_url}/ecommpay/v2/{path}", json=payload, timeout=5)


def _paid(gw: Gateway, sandbox: Sandbox, method: str = "kakaopay") -> Any:
    reference = _ref(f"paid-{method}")
    extra = {"phone": "+254700000001", "email": "a@example.com"} if method == "card" else {}
    charge = gw.create_charge(_request(method, reference, **extra))
    _callbacks(sandbox, reference, 1)
    sandbox.hub.act("ecommpay", reference, "pay")
    return gw.parse_webhook("ecommpay", _raw(sandbox, reference, 2)[1], {}).charge or charge


# -- the official SDK as the oracle ------------------------------------------------------------


def test_every_callback_verifies_under_the_official_sdk(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    charge = _paid(gw, sandbox)
    emulator.plan_refund(f"{charge.id}-no", refund_decline=1.0)
    gw.refund(charge, Money(2_000, "KRW"), reference=f"{charge.id}-ok")
    gw.refund(charge, Money(1_000, "KRW"), reference=f"{charge.id}-no")
    bodies = _raw(sandbox, charge.id, 4)
    card = _ref("sdk-card")
    gw.create_charge(_request("card", card))
    bodies += _raw(sandbox, card, 1)
    for body in bodies:
        verified = Callback(body.decode(), SignatureHandler(SECRET_KEY))
        assert verified.get_payment_id() in (charge.id, card)
        tampered = json.loads(body)
        tampered["payment"]["status"] = "success"
        tampered["operation"]["code"] = "1" + tampered["operation"]["code"]
        with pytest.raises(ProcessException):
            Callback(json.dumps(tampered), SignatureHandler(SECRET_KEY))
        with pytest.raises(ProcessException):
            Callback(body.decode(), SignatureHandler("another key"))


def test_the_status_answer_is_signed_and_lists_every_operation(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    charge = _paid(gw, sandbox)
    emulator.plan_refund(f"{charge.id}-b", refund_decline=1.0)
    gw.refund(charge, Money(3_000, "KRW"), reference=f"{charge.id}-a")
    gw.refund(charge, Money(500, "KRW"), reference=f"{charge.id}-b")
    answer = _post(
        sandbox, "payment/status", {"general": {"project_id": PROJECT_ID, "payment_id": charge.id}}
    )
    assert answer.status_code == 200
    payload = answer.json()
    signature = payload.pop("signature")
    assert SignatureHandler(SECRET_KEY).check(payload, signature)
    ops = [(o["type"], o["status"], o["sum_initial"]["amount"]) for o in payload["operations"]]
    assert ops == [
        ("sale", "success", 12_000),
        ("refund", "success", 3_000),
        ("refund", "decline", 500),
    ]
    assert payload["payment"]["sum"] == {"amount": 9_000, "currency": "KRW"}
    assert payload["payment"]["status"] == "partially refunded"


def test_an_unknown_payment_is_3061_in_the_gates_form(gw: Gateway, sandbox: Sandbox) -> None:
    answer = _post(
        sandbox, "payment/status", {"general": {"project_id": PROJECT_ID, "payment_id": "nope"}}
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "payment": {"status": "error"},
        "errors": [{"code": "3061", "message": "Transaction not found"}],
    }
    with pytest.raises(ProviderError) as info:
        gw.retrieve_charge("ecommpay", reference="nope")
    assert info.value.code == "3061"


def test_requests_paymux_signs_are_accepted_and_tampered_ones_refused(
    sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    reference = _ref("tamper")
    body = {
        "general": {"project_id": PROJECT_ID, "payment_id": reference},
        "customer": {"id": "c; 1: x", "ip_address": "192.0.2.1"},
        "payment": {"amount": 1_000, "currency": "KRW", "description": None},
        "return_url": {"success": "https://shop.example/ok"},
        # The platform doubles a ':' in a key; the pinned SDK does not (research notes, TV5).
        "receipt_data": {"tax:rate": "10"},
    }
    payload = signed(body, SECRET_KEY)
    forged = json.loads(json.dumps(payload))
    forged["payment"]["amount"] = 1
    refused = httpx.post(f"{sandbox.base_url}/ecommpay/v2/payment/wallet/payco/sale", json=forged)
    assert (refused.status_code, refused.json()["code"]) == (400, "3261")
    wrong_key = _post(sandbox, "payment/wallet/payco/sale", body, secret="not the key")
    assert wrong_key.json()["code"] == "3261"
    unsigned = httpx.post(f"{sandbox.base_url}/ecommpay/v2/payment/wallet/payco/sale", json=body)
    assert unsigned.json()["code"] == "3262"
    assert reference not in emulator.books()
    # null is signed as an empty value by the platform; the pinned SDK would write "None".
    accepted = httpx.post(f"{sandbox.base_url}/ecommpay/v2/payment/wallet/payco/sale", json=payload)
    assert accepted.json()["status"] == "success", accepted.json()
    assert emulator.books()[reference].amount == 1_000


_field_names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
_values = st.one_of(st.text(max_size=20), st.integers(-(10**12), 10**12), st.booleans(), st.none())
_objects = st.dictionaries(
    _field_names,
    st.one_of(_values, st.dictionaries(_field_names, _values, max_size=4)),
    max_size=5,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=_objects)
def test_any_body_paymux_signs_is_accepted_by_the_emulator(
    sandbox: Sandbox, extra: dict[str, Any]
) -> None:
    # Field names as the Gate's (letters and '_'): paths with digits are where the official SDKs
    # disagree on the order (natural vs bytewise), and paymux sends none.
    body: dict[str, Any] = {k: v for k, v in extra.items() if k not in ("general", "signature")}
    body["general"] = {"project_id": PROJECT_ID, "payment_id": _ref("prop")}
    answer = _post(sandbox, "payment/status", body)
    assert answer.json().get("code") != "3261", (body, answer.text)


# -- what the emulator sends ---------------------------------------------------------------------


def _decode_qr(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code in the image"
    return str(results[0].text)


@pytest.mark.parametrize("form", ["text", "png", "png-wrapped"])
def test_the_qr_code_comes_as_text_or_as_a_png(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator, form: str
) -> None:
    reference = _ref(f"qr-{form}")
    emulator.plan_payment(reference, qr=form)
    gw.create_charge(_request("kakaopay", reference))
    body = _raw(sandbox, reference, 1)[0]
    item = json.loads(body)["display_data"][0]
    assert (item["type"], item["title"]) == ("qr_img", "QR code")
    page = sandbox.hub.customer_url("ecommpay", reference)
    if form == "text":
        assert item["data"] == page
        action = gw.parse_webhook("ecommpay", body, {}).charge
        assert action is not None and isinstance(action.next_action, DisplayQrCode)
        assert action.next_action.data == page
        return
    data = item["data"]
    if form == "png-wrapped":
        lines = data.split("\n")
        assert len(lines) > 1 and all(len(line) <= 76 for line in lines)
        assert not data.endswith("=")
        data = "".join(lines) + "=" * (-len("".join(lines)) % 4)
    png = base64.b64decode(data, validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _decode_qr(png) == page
    if form == "png":
        charge = gw.parse_webhook("ecommpay", body, {}).charge
        assert charge is not None and isinstance(charge.next_action, DisplayQrCode)
        assert charge.next_action.image_png == png


def test_final_callbacks_carry_separators_in_customer_visible_values(
    gw: Gateway, sandbox: Sandbox
) -> None:
    charge = _paid(gw, sandbox, "payco")
    final = _callbacks(sandbox, charge.id, 2)[1]
    assert final["account"]["holder"] == ACCOUNT_HOLDER
    assert ";" in ACCOUNT_HOLDER and ":" in ACCOUNT_HOLDER
    assert charge.status.is_paid


def test_one_request_id_per_operation(gw: Gateway, sandbox: Sandbox) -> None:
    reference = _ref("rid")
    created = gw.create_charge(_request("card", reference, phone="+254700000001"))
    clarified = gw.clarify(
        gw.parse_webhook("ecommpay", _raw(sandbox, reference, 1)[0], {}).charge or created,
        {"customer.email": "a@example.com"},
    )
    _callbacks(sandbox, reference, 2)
    sandbox.hub.act("ecommpay", reference, "pay")
    sale = _callbacks(sandbox, reference, 3)
    request_id = created.provider_data["request_id"]
    assert clarified.provider_data["clarification_request_id"] == request_id
    assert {c["operation"]["request_id"] for c in sale} == {request_id}
    assert len({c["operation"]["id"] for c in sale}) == 1
    assert [c["operation"]["status"] for c in sale] == [
        "awaiting clarification",
        "awaiting redirect result",
        "success",
    ]
    charge = gw.parse_webhook("ecommpay", json.dumps(sale[2]).encode(), {}).charge
    assert charge is not None
    refund = gw.refund(charge, reference=f"{reference}-r")
    after = _callbacks(sandbox, reference, 4)[3]
    assert after["operation"]["request_id"] == refund.id != request_id


# -- knobs: declined and late refunds ----------------------------------------------------------


def test_a_declined_refund_is_code_20000_and_leaves_the_payment_paid(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    charge = _paid(gw, sandbox)
    emulator.plan_payment(charge.id, refund_decline=1.0)
    refund = gw.refund(charge, Money(4_000, "KRW"), reference=f"{charge.id}-r1")
    callback = _callbacks(sandbox, charge.id, 3)[2]
    assert callback["operation"]["type"] == "refund"
    assert (callback["operation"]["status"], callback["operation"]["code"]) == ("decline", "20000")
    assert callback["operation"]["request_id"] == refund.id
    assert callback["payment"]["status"] == "success"
    assert callback["payment"]["sum"]["amount"] == 12_000
    event = gw.parse_webhook("ecommpay", json.dumps(callback).encode(), {})
    assert event.refund is not None and event.refund.status is RefundStatus.FAILED
    book = emulator.books()[charge.id]
    assert (book.status, book.refunded) == ("success", 0)
    assert [(r.amount, r.status) for r in book.refunds] == [(4_000, "decline")]


def test_a_held_refund_completes_only_when_settled(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    charge = _paid(gw, sandbox)
    emulator.plan_payment(charge.id, refund_hold=True)
    gw.refund(charge, Money(5_000, "KRW"), reference=f"{charge.id}-late")
    book = emulator.books()[charge.id]
    assert [(r.amount, r.status) for r in book.refunds] == [(5_000, "processing")]
    assert (book.status, book.refunded) == ("success", 0)
    # In flight, the money is spoken for: asking for more than is left is refused.
    with pytest.raises(ProviderError) as info:
        gw.refund(charge, Money(8_000, "KRW"), reference=f"{charge.id}-more")
    assert info.value.code == "3283"
    status = gw.retrieve_charge(charge)
    assert status.refunded_amount == Money(0, "KRW")
    assert len(_callbacks(sandbox, charge.id, 2)) == 2
    assert emulator.settle_refunds(charge.id) == 1
    callback = _callbacks(sandbox, charge.id, 3)[2]
    assert (callback["operation"]["status"], callback["payment"]["status"]) == (
        "success",
        "partially refunded",
    )
    assert emulator.books()[charge.id].refunded == 5_000
    assert gw.retrieve_charge(charge).refunded_amount == Money(5_000, "KRW")


def test_a_delayed_refund_completes_by_itself(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    charge = _paid(gw, sandbox)
    emulator.plan_refund(f"{charge.id}-slow", refund_delay=0.3)
    gw.refund(charge, Money(1_000, "KRW"), reference=f"{charge.id}-slow")
    callback = _callbacks(sandbox, charge.id, 3)[2]
    assert callback["operation"]["status"] == "success"
    assert emulator.books()[charge.id].refunds[0].status == "success"


def test_unknown_or_bad_knobs_are_refused(emulator: EcommpayEmulator) -> None:
    with pytest.raises(ValueError, match="unknown knob"):
        emulator.plan_payment("x", refund_late=True)
    with pytest.raises(ValueError, match="qr"):
        emulator.configure(qr="jpeg")
    with pytest.raises(ValueError, match="probability"):
        emulator.plan_refund("x", refund_decline=2.0)


# -- Payment Page and clarification --------------------------------------------------------------


def test_the_payment_page_link_paymux_builds_starts_the_payment(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    reference = _ref("page")
    link = gw.provider("ecommpay").payment_page_url(_request("kakaopay", reference))  # type: ignore[attr-defined]
    browser = httpx.Client(follow_redirects=False)
    parts = urlsplit(link.url)
    params = parse_qsl(parts.query)
    for name, value in (("payment_amount", "1"), ("payment_id", "other")):
        tampered = [(k, value if k == name else v) for k, v in params]
        page = browser.get(urlunsplit(parts._replace(query=urlencode(tampered))))
        assert page.status_code == 400 and ">3261<" in page.text
    unsigned = [(k, v) for k, v in params if k != "signature"]
    page = browser.get(urlunsplit(parts._replace(query=urlencode(unsigned))))
    assert ">3262<" in page.text
    assert reference not in emulator.books() and "other" not in emulator.books()
    page = browser.get(link.url)
    assert page.status_code == 303
    assert page.headers["location"] == sandbox.hub.customer_url("ecommpay", reference)
    assert emulator.books()[reference].amount == 12_000
    assert ">3041<" in browser.get(link.url).text
    sandbox.hub.act("ecommpay", reference, "pay")
    final = _raw(sandbox, reference, 1)[0]
    Callback(final.decode(), SignatureHandler(SECRET_KEY))
    charge = gw.parse_webhook("ecommpay", final, {}).charge
    assert charge is not None and charge.status.is_paid
    browser.close()


@pytest.mark.parametrize(
    ("given", "asked"),
    [
        ({}, ["email", "phone"]),
        ({"phone": "+254700000001"}, ["email"]),
        ({"email": "a@example.com"}, ["phone"]),
    ],
)
def test_clarification_asks_for_every_missing_field(
    gw: Gateway, sandbox: Sandbox, given: dict[str, str], asked: list[str]
) -> None:
    reference = _ref("clarify")
    gw.create_charge(_request("card", reference, **given))
    body = _raw(sandbox, reference, 1)[0]
    assert json.loads(body)["clarification_fields"] == {"customer": asked}
    charge = gw.parse_webhook("ecommpay", body, {}).charge
    assert charge is not None and isinstance(charge.next_action, ProvideInformation)
    assert [f.name for f in charge.next_action.fields] == [f"customer.{n}" for n in asked]
    values = {"customer.phone": "+254700000009", "customer.email": "b@example.com"}
    if len(asked) > 1:
        with pytest.raises(ProviderError) as info:
            gw.clarify(charge, {f"customer.{asked[0]}": values[f"customer.{asked[0]}"]})
        assert info.value.code == "2004" and asked[1] in info.value.message
    gw.clarify(charge, {f"customer.{n}": values[f"customer.{n}"] for n in asked})
    assert "redirect_data" in _callbacks(sandbox, reference, 2)[1]


def test_card_partner_with_phone_and_email_goes_straight_to_the_partner(
    gw: Gateway, sandbox: Sandbox
) -> None:
    reference = _ref("card-full")
    gw.create_charge(_request("card", reference, phone="+254700000001", email="a@example.com"))
    assert "redirect_data" in _callbacks(sandbox, reference, 1)[0]


# -- faults: the answer is lost after the emulator acted ---------------------------------------


def _sale_body(reference: str, currency: str, amount: int, **customer: str) -> dict[str, Any]:
    return {
        "general": {"project_id": PROJECT_ID, "payment_id": reference},
        "customer": {"id": "c-1", "ip_address": "192.0.2.1", **customer},
        "payment": {"amount": amount, "currency": currency},
        "return_url": {"success": "https://shop.example/ok"},
    }


def _prepare(sandbox: Sandbox, endpoint: str) -> tuple[str, dict[str, Any], str]:
    """(path, body, payment id) of a write whose effect the books can show."""
    reference = _ref(f"lost-{endpoint.replace('/', '-')}")
    full = {"phone": "+254700000001", "email": "a@example.com"}
    if endpoint.endswith("/sale"):
        card = endpoint.startswith("card")
        body = _sale_body(reference, "KES" if card else "KRW", 250_000 if card else 9_000, **full)
        return f"payment/{endpoint}", body, reference
    if endpoint == "clarification":
        assert _post(
            sandbox, "payment/card-partner/sale", _sale_body(reference, "KES", 250_000)
        ).is_success
        body = {"general": {"project_id": PROJECT_ID, "payment_id": reference}, "customer": full}
        return "payment/clarification", body, reference
    method = endpoint.removesuffix("/refund")
    currency, amount = ("KES", 250_000) if method == "card-partner" else ("KRW", 9_000)
    sale = _post(sandbox, f"payment/{method}/sale", _sale_body(reference, currency, amount, **full))
    assert sale.is_success
    _callbacks(sandbox, reference, 1)
    sandbox.hub.act("ecommpay", reference, "pay")
    body = {
        "general": {"project_id": PROJECT_ID, "payment_id": reference},
        "payment": {"merchant_refund_id": f"{reference}-r", "description": "refund"},
    }
    return f"payment/{endpoint}", body, reference


def _acted(emulator: EcommpayEmulator, endpoint: str, reference: str) -> bool:
    book = emulator.books().get(reference)
    if book is None:
        return False
    if endpoint.endswith("/refund"):
        return [r.merchant_refund_id for r in book.refunds] == [f"{reference}-r"]
    if endpoint == "clarification":
        return emulator.payments[reference].status == "awaiting redirect result"
    return True


WRITES = [
    "wallet/kakaopay/sale",
    "wallet/payco/sale",
    "card-partner/sale",
    "wallet/kakaopay/refund",
    "wallet/payco/refund",
    "card-partner/refund",
    "clarification",
]


@pytest.mark.parametrize("endpoint", WRITES)
def test_an_answer_lost_after_processing_on_every_write_endpoint(
    sandbox: Sandbox, emulator: EcommpayEmulator, endpoint: str
) -> None:
    path, body, reference = _prepare(sandbox, endpoint)
    assert not _acted(emulator, endpoint, reference)
    url_path = f"/ecommpay/v2/{path}"
    assert url_path in emulator.write_paths()
    sandbox.faults.update({"once": [(url_path, "drop")]})
    with pytest.raises(httpx.TransportError):
        _post(sandbox, path, body)
    # The client saw the connection die, yet the platform had already acted.
    assert (url_path, "drop") in sandbox.faults.applied
    assert _acted(emulator, endpoint, reference)
    again = _post(sandbox, path, body)
    if endpoint.endswith("/sale"):
        assert again.json()["code"] == "3041"
    elif endpoint.endswith("/refund"):
        assert again.json()["code"] == "3230"
    else:
        assert again.json()["code"] == "3060"


def test_a_late_answer_is_lost_by_an_impatient_client_after_processing(
    sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    reference = _ref("late")
    path = "payment/wallet/payco/sale"
    sandbox.faults.update({"once": [(f"/ecommpay/v2/{path}", "late")], "latency_ms": 400})
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{sandbox.base_url}/ecommpay/v2/{path}",
            json=signed(_sale_body(reference, "KRW", 1_000), SECRET_KEY),
            timeout=0.1,
        )
    assert reference in emulator.books()
    sandbox.faults.update({"latency_ms": 200})


def test_random_drops_can_be_limited_to_write_endpoints(
    sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    plan = FaultPlan(drop=1.0, drop_paths=emulator.write_paths(), seed=1)
    assert plan.request_fault("/ecommpay/v2/payment/status") is None
    assert plan.request_fault("/ecommpay/payment-page/payment") is None
    assert plan.request_fault("/ecommpay/v2/payment/wallet/payco/refund") == "drop"
    assert FaultPlan(drop=1.0).request_fault("/ecommpay/v2/payment/status") == "drop"


def test_without_the_official_sdk_the_emulator_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "payment_page_sdk", None)
    monkeypatch.setitem(sys.modules, "payment_page_sdk.signature_handler", None)
    hub = SandboxHub("http://127.0.0.1:9")
    try:
        with pytest.raises(ConfigurationError, match=r"pip install 'paymux-ecommpay\[sandbox\]'"):
            EcommpayEmulator(hub)
    finally:
        hub.close()


def test_the_emulator_never_imports_paymuxs_signer() -> None:
    import ast
    from pathlib import Path

    import paymux_ecommpay

    package = Path(paymux_ecommpay.__file__).parent
    modules = sorted(package.glob("emulator*.py"))
    assert len(modules) >= 4
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {node.module or "", *(alias.name for alias in node.names)}
                assert not any("signing" in name for name in names), module.name
            elif isinstance(node, ast.Import):
                assert not any("signing" in alias.name for alias in node.names), module.name


def test_a_body_the_sdk_cannot_sign_is_refused_not_a_crash(sandbox: Sandbox) -> None:
    general = f'{{"project_id": {PROJECT_ID}, "payment_id": "x", "signature": "c2ln"}}'
    body = f'{{"general": {general}, "customer": {{"id": "\\ud800"}}}}'
    answer = httpx.post(
        f"{sandbox.base_url}/ecommpay/v2/payment/status",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "3261")


def test_an_empty_qr_can_come_before_the_real_one(
    gw: Gateway, sandbox: Sandbox, emulator: EcommpayEmulator
) -> None:
    reference = _ref("qr-empty")
    emulator.plan_payment(reference, qr_empty_first=True)
    gw.create_charge(_request("kakaopay", reference))
    first, second = _raw(sandbox, reference, 2)
    for body in (first, second):
        Callback(body.decode(), SignatureHandler(SECRET_KEY))
    empty, real = json.loads(first), json.loads(second)
    assert empty["display_data"] == [{"type": "qr_img", "title": "QR code", "data": ""}]
    assert real["display_data"][0]["data"] == sandbox.hub.customer_url("ecommpay", reference)
    assert empty["operation"]["status"] == real["operation"]["status"]
    assert empty["operation"]["id"] == real["operation"]["id"]
