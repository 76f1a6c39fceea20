"""Sans-IO flows: what is sent, what is refused before sending, and how answers are read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from ecommpay_support import (
    PROJECT_ID,
    SECRET_KEY,
    body_of,
    charge_request,
    json_response,
    make_provider,
)

from paymux import Charge, ChargeStatus, Customer, Money, ProvideInformation
from paymux.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequest,
    ProviderError,
    RefundNotAllowed,
)
from paymux.provider import OPERATION, RETRY_SAFE, ChargeLookup
from paymux.testing import no_network, run_flow
from paymux_ecommpay import EcommpayProvider, sign, verify

ACCEPTED = {
    "status": "success",
    "request_id": "2f5645b7-495659ce-00000001",
    "project_id": PROJECT_ID,
    "payment_id": "test_payment",
}


class Recorder:
    """Answers every request with ``answer`` and keeps what was sent."""

    def __init__(self, answer: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.answer(request) if callable(self.answer) else self.answer


# -- create_charge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("kakaopay", "/v2/payment/wallet/kakaopay/sale"),
        ("payco", "/v2/payment/wallet/payco/sale"),
        ("card", "/v2/payment/card-partner/sale"),
    ],
)
def test_sale_request_and_accepted_answer(method: str, path: str) -> None:
    provider = make_provider(callback_url="https://shop.example/ecp/callback")
    recorder = Recorder(json_response(200, ACCEPTED))
    request = charge_request(
        method,
        description="Order 345678",
        customer=Customer(
            id="customer123", ip_address="192.0.2.0", email="a@b.kr", phone="+254700000000"
        ),
    )
    charge = run_flow(provider.create_charge(request), recorder)

    (sent,) = recorder.sent
    assert sent.method == "POST"
    assert str(sent.url) == f"https://api.ecommpay.com{path}"
    assert sent.extensions[RETRY_SAFE] is True
    assert sent.extensions[OPERATION] == "create_charge"
    body = body_of(sent)
    assert verify(body, SECRET_KEY)
    assert body["general"]["project_id"] == PROJECT_ID
    assert body["general"]["payment_id"] == "test_payment"
    assert body["general"]["merchant_callback_url"] == "https://shop.example/ecp/callback"
    assert body["customer"] == {
        "id": "customer123",
        "ip_address": "192.0.2.0",
        "email": "a@b.kr",
        "phone": "+254700000000",
    }
    assert body["payment"] == {
        "amount": 1000,
        "currency": request.amount.currency,
        "description": "Order 345678",
    }
    assert body["return_url"] == {
        "success": "http://example.com/success",
        "decline": "http://example.com/decline",
        "return": "http://example.com/return",
    }
    assert SECRET_KEY not in sent.content.decode()

    # Accepted is not paid: the result comes by callback.
    assert charge.status is ChargeStatus.PENDING
    assert charge.next_action is None
    assert charge.id == charge.reference == "test_payment"
    assert charge.method == method
    assert charge.provider_data["request_id"] == ACCEPTED["request_id"]


@pytest.mark.parametrize(
    ("decline", "back", "sent"),
    [
        ("https://shop.example/no", None, ("https://shop.example/no", "https://shop.example/no")),
        (None, "https://shop.example/cart", ("https://shop.example/cart",) * 2),
        ("https://shop.example/no", "https://shop.example/cart", None),
    ],
)
def test_a_declined_customer_never_lands_on_the_success_page(
    decline: str | None, back: str | None, sent: tuple[str, str] | None
) -> None:
    # Seeds 001/002: return_url has success, decline and return pages. Decline goes to decline,
    # else back; "return" (leaving during the payment) to back, else decline. Never to success.
    from paymux import ReturnUrls

    recorder = Recorder(json_response(200, ACCEPTED))
    urls = ReturnUrls(success="https://shop.example/ok", decline=decline, back=back)
    run_flow(make_provider().create_charge(charge_request("payco", return_urls=urls)), recorder)
    expected = sent or (decline, back)
    assert body_of(recorder.sent[0])["return_url"] == {
        "success": "https://shop.example/ok",
        "decline": expected[0],
        "return": expected[1],
    }


@pytest.mark.parametrize("method", ["kakaopay", "payco", "card"])
def test_only_a_success_page_is_refused_before_sending(method: str) -> None:
    from paymux import ReturnUrls

    request = charge_request(method, return_urls=ReturnUrls(success="https://shop.example/ok"))
    with pytest.raises(InvalidRequest) as caught:
        run_flow(make_provider().create_charge(request), no_network)
    assert caught.value.field == "return_urls.decline"


def test_kakaopay_by_gate_needs_return_urls_but_not_by_payment_page() -> None:
    # Seed 001 (English) lists return_url as required for the Gate sale; seed 000 (Russian) shows
    # a Gate sale without it. paymux follows the stricter page: a Gate request the platform may
    # refuse would be found out only after the customer waited. Both seeds' Payment Page
    # examples have no return URLs, and paymux builds such links.
    with pytest.raises(InvalidRequest) as caught:
        run_flow(make_provider().create_charge(charge_request(return_urls=None)), no_network)
    assert caught.value.field == "return_urls"
    link = make_provider().payment_page_url(charge_request(return_urls=None))
    assert "merchant_success_url" not in link.url and "signature=" in link.url


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"method": "kakaopay", "amount": Money(1000, "USD")}, "amount.currency"),
        ({"method": "payco", "amount": Money(1000, "JPY")}, "amount.currency"),
        ({"method": "card", "amount": Money(999, "KES")}, "amount"),
        ({"method": "card", "amount": Money(20_000_001, "KES")}, "amount"),
        ({"method": "card", "amount": Money(99, "USD")}, "amount"),
        ({"method": "card", "amount": Money(300_001, "USD")}, "amount"),
        ({"method": "card", "amount": Money(1000, "KRW")}, "amount.currency"),
        ({"method": "kakaopay", "amount": Money(0, "KRW")}, "amount"),
        ({"method": "kakaopay", "country": "TH"}, "country"),
        ({"method": "kakaopay", "customer": Customer(id="c1")}, "customer.ip_address"),
        ({"method": "card", "customer": Customer(id="c1")}, "customer.ip_address"),
        ({"method": "payco", "return_urls": None}, "return_urls"),
        ({"method": "kakaopay", "return_urls": None}, "return_urls"),
        ({"method": "alipay"}, "method"),
        ({"method": "kakaopay", "provider_options": {"frame_mode": "popup"}}, "provider_options"),
        (
            {"method": "kakaopay", "provider_options": {"device_type": "TV"}},
            "provider_options.device_type",
        ),
    ],
)
def test_refused_before_the_network(overrides: dict[str, Any], field: str) -> None:
    method = overrides.pop("method")
    request = charge_request(method, **overrides)
    with pytest.raises(InvalidRequest) as info:
        run_flow(make_provider().create_charge(request), no_network)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("amount", "currency"), [(1000, "KES"), (20_000_000, "KES"), (100, "USD"), (300_000, "USD")]
)
def test_card_limits_are_inclusive(amount: int, currency: str) -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    charge = run_flow(
        make_provider().create_charge(charge_request("card", amount=Money(amount, currency))),
        recorder,
    )
    assert charge.amount == Money(amount, currency)


def test_fractional_won_cannot_even_be_expressed() -> None:
    with pytest.raises(InvalidRequest):
        Money.of("1000.5", "KRW")
    with pytest.raises(InvalidRequest):
        Money(1000.0, "KRW")


def test_card_without_phone_and_email_is_sent_and_left_to_clarification() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    run_flow(make_provider().create_charge(charge_request("card", return_urls=None)), recorder)
    body = body_of(recorder.sent[0])
    assert body["customer"] == {"id": "customer123", "ip_address": "192.0.2.0"}
    assert "return_url" not in body


@pytest.mark.parametrize(
    ("status", "answer", "error", "code"),
    [
        (
            400,
            {
                "status": "error",
                "code": "3041",
                "message": "Payment ID already exists",
                "request_id": "r",
            },
            ProviderError,
            "3041",
        ),
        (
            400,
            {"status": "error", "code": "2004", "message": "Required field not provided"},
            ProviderError,
            "2004",
        ),
        (
            401,
            {"status": "error", "code": "3261", "message": "Invalid signature"},
            AuthenticationError,
            "3261",
        ),
        (
            400,
            {"status": "error", "code": "2442", "message": "Project ID not found"},
            AuthenticationError,
            "2442",
        ),
        (
            200,
            {"status": "error", "errors": [{"code": "3262", "message": "Empty signature"}]},
            AuthenticationError,
            "3262",
        ),
        (500, {"unexpected": True}, ProviderError, None),
    ],
)
def test_rejections(
    status: int, answer: dict[str, Any], error: type[ProviderError], code: str | None
) -> None:
    with pytest.raises(error) as info:
        run_flow(
            make_provider().create_charge(charge_request()), Recorder(json_response(status, answer))
        )
    assert info.value.code == code
    assert info.value.http_status == status
    assert info.value.provider == "ecommpay"
    assert SECRET_KEY not in str(info.value)


def test_duplicate_payment_id_says_no_second_payment_was_made() -> None:
    answer = {"status": "error", "code": "3041", "message": "Payment ID already exists"}
    with pytest.raises(ProviderError, match="no second payment"):
        run_flow(
            make_provider().create_charge(charge_request()), Recorder(json_response(400, answer))
        )


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.Response(200, json={"status": "success"}),
        httpx.Response(200, json=["success"]),
    ],
)
def test_unreadable_answers_are_provider_errors(response: httpx.Response) -> None:
    with pytest.raises(ProviderError):
        run_flow(make_provider().create_charge(charge_request()), Recorder(response))


# -- refunds --------------------------------------------------------------------------------------


def paid(method: str = "kakaopay", amount: Money | None = None, refunded: int = 0) -> Charge:
    amount = amount or (Money(1000, "KES") if method == "card" else Money(1000, "KRW"))
    return Charge(
        provider="ecommpay",
        id="test_payment",
        reference="test_payment",
        amount=amount,
        method=method,
        status=ChargeStatus.PARTIALLY_REFUNDED if refunded else ChargeStatus.SUCCEEDED,
        refunded_amount=Money(refunded, amount.currency),
    )


def test_partial_wallet_refund_states_amount_and_currency() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    refund = run_flow(
        make_provider().refund(
            paid("payco"), Money(400, "KRW"), reason="test refund", reference="rf-1"
        ),
        recorder,
    )
    (sent,) = recorder.sent
    assert str(sent.url) == "https://api.ecommpay.com/v2/payment/wallet/payco/refund"
    assert sent.extensions[RETRY_SAFE] is True
    body = body_of(sent)
    assert verify(body, SECRET_KEY)
    assert body["general"]["payment_id"] == "test_payment"
    assert body["payment"] == {
        "description": "test refund",
        "merchant_refund_id": "rf-1",
        "amount": 400,
        "currency": "KRW",
    }
    assert refund.status == "pending"
    assert refund.id == ACCEPTED["request_id"]
    assert refund.reference == "rf-1"
    assert refund.amount == Money(400, "KRW")


def test_full_refund_omits_the_amount() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    run_flow(
        make_provider().refund(paid("kakaopay"), Money(1000, "KRW"), reason=None, reference="rf-2"),
        recorder,
    )
    body = body_of(recorder.sent[0])
    assert str(recorder.sent[0].url).endswith("/v2/payment/wallet/kakaopay/refund")
    assert "amount" not in body["payment"] and "currency" not in body["payment"]
    assert body["payment"]["description"]  # the wallets want a description


def test_rest_after_a_partial_refund_states_its_amount() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    charge = paid("kakaopay", refunded=300)
    run_flow(
        make_provider().refund(charge, Money(700, "KRW"), reason=None, reference="rf-3"), recorder
    )
    assert body_of(recorder.sent[0])["payment"]["amount"] == 700


def test_card_partner_full_refund() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    run_flow(
        make_provider().refund(paid("card"), Money(1000, "KES"), reason=None, reference="rf-4"),
        recorder,
    )
    assert str(recorder.sent[0].url) == "https://api.ecommpay.com/v2/payment/card-partner/refund"
    assert "amount" not in body_of(recorder.sent[0])["payment"]


@pytest.mark.parametrize(
    ("charge", "amount"),
    [
        (paid("card"), Money(500, "KES")),
        (paid("card", refunded=0), Money(1001, "KES")),
        (paid("kakaopay", refunded=600), Money(500, "KRW")),
    ],
)
def test_refunds_refused_locally(charge: Charge, amount: Money) -> None:
    with pytest.raises(RefundNotAllowed):
        run_flow(make_provider().refund(charge, amount, reason=None, reference="rf"), no_network)


def test_duplicate_refund_id_is_a_provider_error_with_its_code() -> None:
    answer = {
        "status": "error",
        "code": "3230",
        "message": "The operation with such merchant_refund_id already exists",
    }
    with pytest.raises(ProviderError) as info:
        run_flow(
            make_provider().refund(paid(), Money(100, "KRW"), reason=None, reference="rf"),
            Recorder(json_response(400, answer)),
        )
    assert info.value.code == "3230"


# -- status ---------------------------------------------------------------------------------------


def status_answer(
    payment_status: str, operations: list[dict[str, Any]], remaining: int = 1000, **extra: Any
) -> dict[str, Any]:
    answer = {
        "project_id": PROJECT_ID,
        "payment": {
            "id": "test_payment",
            "type": "purchase",
            "status": payment_status,
            "method": "kakaopay",
            "sum": {"amount": remaining, "currency": "KRW"},
        },
        "operations": operations,
        **extra,
    }
    answer["signature"] = sign(answer, SECRET_KEY)
    return answer


def op(
    kind: str, status: str, amount: int, code: str = "0", request_id: str = "req-1"
) -> dict[str, Any]:
    return {
        "id": 1,
        "request_id": request_id,
        "type": kind,
        "status": status,
        "date": "2020-12-10T10:44:49+0000",
        "code": code,
        "message": "",
        "sum_initial": {"amount": amount, "currency": "KRW"},
    }


def retrieve(
    answer: dict[str, Any] | httpx.Response, known: Charge | None = None
) -> tuple[Charge, Recorder]:
    response = answer if isinstance(answer, httpx.Response) else json_response(200, answer)
    recorder = Recorder(response)
    provider = make_provider()
    lookup = (
        ChargeLookup(charge_id="test_payment", charge=known)
        if known
        else provider.lookup("test_payment")
    )
    return run_flow(provider.retrieve_charge(lookup), recorder), recorder


def test_status_request_and_paid_answer() -> None:
    charge, recorder = retrieve(status_answer("success", [op("sale", "success", 1000)]))
    (sent,) = recorder.sent
    assert str(sent.url) == "https://api.ecommpay.com/v2/payment/status"
    assert sent.extensions[RETRY_SAFE] is True
    assert verify(body_of(sent), SECRET_KEY)
    assert body_of(sent)["general"]["payment_id"] == "test_payment"
    assert charge.status is ChargeStatus.SUCCEEDED
    assert charge.amount == Money(1000, "KRW")
    assert charge.method == "kakaopay"


def test_status_with_refunds_adds_them_up() -> None:
    operations = [
        op("sale", "success", 1000),
        op("refund", "success", 300),
        op("refund", "decline", 200),
        op("refund", "success", 100),
    ]
    charge, _ = retrieve(status_answer("partially refunded", operations, remaining=600))
    assert charge.status is ChargeStatus.PARTIALLY_REFUNDED
    assert charge.amount == Money(1000, "KRW")
    assert charge.refunded_amount == Money(400, "KRW")
    assert charge.refundable_amount == Money(600, "KRW")


def test_status_declined_has_failure() -> None:
    charge, _ = retrieve(status_answer("decline", [op("sale", "decline", 1000, code="20105")]))
    assert charge.status is ChargeStatus.FAILED
    assert charge.failure is not None
    assert charge.failure.reason == "insufficient_funds"
    assert charge.failure.code == "20105"


def test_status_still_open_with_redirect() -> None:
    answer = status_answer(
        "awaiting redirect result",
        [op("sale", "awaiting redirect result", 1000, code="9999")],
        redirect_data={
            "method": "GET",
            "url": "https://payco.example/pay",
            "body": [],
            "encrypted": [],
        },
    )
    charge, _ = retrieve(answer)
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert charge.next_action is not None and charge.next_action.type == "redirect_to_url"


def test_status_not_found() -> None:
    answer = {
        "payment": {"status": "error"},
        "errors": [{"code": "3061", "message": "Transaction not found"}],
    }
    with pytest.raises(ProviderError) as info:
        retrieve(answer)
    assert info.value.code == "3061"


def test_unsigned_or_forged_status_answers_are_not_trusted() -> None:
    answer = status_answer("success", [op("sale", "success", 1000)])
    unsigned = {k: v for k, v in answer.items() if k != "signature"}
    with pytest.raises(ProviderError, match="not signed"):
        retrieve(unsigned)
    forged = {**answer, "payment": {**answer["payment"], "sum": {"amount": 1, "currency": "KRW"}}}
    with pytest.raises(ProviderError, match="signature"):
        retrieve(forged)


def test_lookup_needs_an_id() -> None:
    with pytest.raises(InvalidRequest):
        run_flow(make_provider().retrieve_charge(ChargeLookup()), no_network)


def test_polling_waits_for_the_base_time() -> None:
    provider = make_provider(base_time_seconds=120)
    assert provider.reconcile_after(paid()).total_seconds() == 120
    assert make_provider().reconcile_after(paid()).total_seconds() == 10


# -- clarification --------------------------------------------------------------------------------


def awaiting_clarification() -> Charge:
    return Charge(
        provider="ecommpay",
        id="TEST_184",
        reference="TEST_184",
        amount=Money(1000, "KES"),
        method="card",
        status=ChargeStatus.REQUIRES_ACTION,
        next_action=ProvideInformation(
            fields=({"name": "customer.phone"}, {"name": "customer.email"})
        ),  # type: ignore[arg-type]
    )


def test_clarification_request() -> None:
    recorder = Recorder(json_response(200, ACCEPTED))
    charge = run_flow(
        make_provider().clarify(
            awaiting_clarification(), {"customer.phone": "254712375678", "customer.email": "a@b.ke"}
        ),
        recorder,
    )
    (sent,) = recorder.sent
    assert str(sent.url) == "https://api.ecommpay.com/v2/payment/clarification"
    body = body_of(sent)
    assert verify(body, SECRET_KEY)
    assert body["general"]["payment_id"] == "TEST_184"
    assert body["customer"] == {"phone": "254712375678", "email": "a@b.ke"}
    assert charge.status is ChargeStatus.PENDING
    assert charge.next_action is None


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"phone": "1"},
        {"general.project_id": "1"},
        {"customer.phone": 1},
        {"customer": "x", "customer.phone": "1"},
    ],
)
def test_bad_clarification_fields(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        run_flow(make_provider().clarify(awaiting_clarification(), fields), no_network)


def test_no_clarification_for_a_finished_charge() -> None:
    with pytest.raises(InvalidRequest):
        run_flow(make_provider().clarify(paid(), {"customer.phone": "1"}), no_network)


# -- Payment Page ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "forced"),
    [("kakaopay", "kakaopay-wallet"), ("payco", "payco-wallet"), ("card", "card-partner")],
)
def test_payment_page_url(method: str, forced: str) -> None:
    action = make_provider().payment_page_url(
        charge_request(method, customer=Customer(id="customer1"))
    )
    assert action.method == "GET"
    url = urlsplit(action.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://paymentpage.ecommpay.com/payment"
    params = dict(parse_qsl(url.query))
    assert params["force_payment_method"] == forced
    assert params["payment_id"] == "test_payment"
    assert params["customer_id"] == "customer1"
    assert params["payment_amount"] == "1000"
    # The page checks the signature over the parameters exactly as they were sent.
    typed = {**params, "project_id": int(params["project_id"]), "payment_amount": 1000}
    assert verify(typed, SECRET_KEY)


def test_payment_page_keeps_the_limits() -> None:
    with pytest.raises(InvalidRequest):
        make_provider().payment_page_url(charge_request("card", amount=Money(50, "KES")))


# -- settings and plugin --------------------------------------------------------------------------


def test_secret_never_shows() -> None:
    provider = make_provider()
    assert SECRET_KEY not in repr(provider.settings)
    assert SECRET_KEY not in str(provider.describe())
    assert provider.secret_values() == [SECRET_KEY]


@pytest.mark.parametrize(
    "settings",
    [
        {"secret_key": "s3cr3t-value"},
        {"project_id": 0, "secret_key": "s3cr3t-value"},
        {"project_id": True, "secret_key": "s3cr3t-value"},
        {"project_id": 1, "secret_key": ""},
        {"project_id": 1, "secret_key": "s3cr3t-value", "base_url": "api.ecommpay.com"},
        {"project_id": 1, "secret_key": "s3cr3t-value", "callback_url": "ftp://x"},
        {"project_id": 1, "secret_key": "s3cr3t-value", "base_time_seconds": 5},
        {"project_id": 1, "secret_key": "s3cr3t-value", "colour": "red"},
    ],
)
def test_bad_settings_are_refused_without_echoing_the_secret(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        EcommpayProvider.configure(settings)
    assert "s3cr3t-value" not in str(info.value)


def test_registered_as_a_plugin() -> None:
    from paymux import available_providers

    assert "ecommpay" in available_providers()


def test_capabilities() -> None:
    caps = {c.method: c for c in make_provider().capabilities()}
    assert set(caps) == {"kakaopay", "payco", "card"}
    assert caps["kakaopay"].countries == ("KR",) and caps["payco"].countries == ("KR",)
    assert caps["card"].countries is None
    assert caps["card"].refunds == "full"
    assert caps["kakaopay"].refunds == caps["payco"].refunds == "partial"
    assert caps["card"].provider_method == "card-partner"
