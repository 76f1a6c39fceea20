"""Callbacks: every example of the method pages, signed with a test key, and hostile input."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecommpay_support import SECRET_KEY, load, make_provider, signed_callback
from hypothesis import given
from hypothesis import strategies as st

from paymux import (
    ChargeStatus,
    DisplayQrCode,
    Money,
    ProvideInformation,
    RedirectToUrl,
    WebhookEvent,
)
from paymux.errors import PaymuxError, WebhookParseError, WebhookVerificationError
from paymux.testing import no_network, run_flow
from paymux_ecommpay import EcommpayProvider

CASES = load("seed_callbacks.json")["cases"]


def offline_provider(**settings: Any) -> EcommpayProvider:
    """No Gate to ask here: these tests read callbacks on their signature alone (the confirmed
    path has its own tests in test_ecommpay_confirmation.py)."""
    return make_provider(confirm_callbacks=False, **settings)


def parse(provider: EcommpayProvider, body: bytes) -> WebhookEvent:
    return run_flow(provider.parse_webhook(body, {"content-type": "application/json"}), no_network)


def provider_for(body: dict[str, Any]) -> EcommpayProvider:
    return offline_provider(project_id=int(body["project_id"]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
@pytest.mark.parametrize("where", ["top", "general"])
def test_seed_callback(case: dict[str, Any], where: str) -> None:
    body, expect = case["body"], case["expect"]
    provider = provider_for(body)
    raw = signed_callback(body, where=where)
    if expect.get("parse_error"):
        with pytest.raises(WebhookParseError):
            parse(provider, raw)
        return
    event = parse(provider, raw)
    if "refund_status" in expect:
        _check_refund_event(event, body, expect)
        return
    charge = event.charge
    assert charge is not None
    assert charge.status == expect["charge_status"]
    assert charge.id == body["payment"]["id"]
    assert charge.method == expect["method"]
    # Intermediate callbacks add a digest of what the customer is shown (see test_event_ids).
    assert event.id == expect["event_id"] or event.id.startswith(expect["event_id"] + ":")
    assert event.verified_by == "signature"
    if expect["failure"] is None:
        assert charge.failure is None
    else:
        assert charge.failure is not None
        assert charge.failure.reason == expect["failure"]["reason"]
        assert charge.failure.code == expect["failure"]["code"]
    assert event.refund is None
    _check_next_action(charge.next_action, expect.get("next_action"))
    # Nothing derived from the key leaks into what the application keeps.
    signature = json.loads(raw).get("signature") or json.loads(raw)["general"]["signature"]
    assert signature not in json.dumps(event.raw)
    assert signature not in repr(event)


def _check_refund_event(event: WebhookEvent, body: dict[str, Any], expect: dict[str, Any]) -> None:
    # A refund callback states what is left of the payment and this refund, nothing more: the
    # event says exactly that and carries no charge with an original amount made up from it.
    assert event.charge is None
    assert event.remaining_amount == Money(**body["payment"]["sum"])
    if "refundable" in expect:
        assert event.remaining_amount.amount == expect["refundable"]
    # Intermediate callbacks add a digest of what the customer is shown (see test_event_ids).
    assert event.id == expect["event_id"] or event.id.startswith(expect["event_id"] + ":")
    refund = event.refund
    assert refund is not None
    assert refund.status == expect["refund_status"]
    assert refund.charge_id == body["payment"]["id"]
    assert refund.id == body["operation"]["request_id"]
    if "refund_amount" in expect:
        assert refund.amount.amount == expect["refund_amount"]
    if "refund_failure" in expect:
        assert refund.failure is not None
        assert refund.failure.reason == expect["refund_failure"]["reason"]
        assert refund.failure.code == expect["refund_failure"]["code"]
    else:
        assert refund.failure is None


def _check_next_action(action: Any, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert action is None
        return
    assert action is not None
    assert action.type == expected["type"]
    if isinstance(action, DisplayQrCode):
        assert action.data == expected["data"]
        if expected["image_png"]:
            assert action.image_png is not None
            assert action.image_png.startswith(b"\x89PNG")
            assert action.png() == action.image_png
        else:
            assert action.image_png is None
            assert action.svg().startswith("<svg")
    elif isinstance(action, RedirectToUrl):
        assert action.method == expected["method"]
        assert action.url == expected["url"]
        assert action.form_fields == expected["form"]
        assert 'method="post"' in action.html()
    elif isinstance(action, ProvideInformation):
        assert [f.name for f in action.fields] == expected["fields"]
    else:  # pragma: no cover
        pytest.fail(f"unexpected next action {action!r}")


def _case(name: str) -> dict[str, Any]:
    return copy.deepcopy(next(c for c in CASES if c["name"] == name)["body"])


def test_tampered_amount_is_refused() -> None:
    body = _case("001_sale_success")
    raw = json.loads(signed_callback(body))
    raw["payment"]["sum"]["amount"] = 1
    with pytest.raises(WebhookVerificationError):
        parse(provider_for(body), json.dumps(raw).encode())


def test_tampered_status_is_refused() -> None:
    body = _case("002_sale_decline")
    raw = json.loads(signed_callback(body))
    raw["payment"]["status"] = "success"
    raw["operation"]["status"] = "success"
    with pytest.raises(WebhookVerificationError):
        parse(provider_for(body), json.dumps(raw).encode())


def test_unsigned_callback_is_refused() -> None:
    body = _case("003_sale_success")
    with pytest.raises(WebhookVerificationError, match="no signature"):
        parse(provider_for(body), json.dumps(body).encode())


def test_callback_signed_with_another_key_is_refused() -> None:
    body = _case("000_sale_success")
    with pytest.raises(WebhookVerificationError):
        parse(provider_for(body), signed_callback(body, secret=SECRET_KEY + "-other"))


def test_callback_of_another_project_is_refused() -> None:
    body = _case("000_sale_success")
    with pytest.raises(WebhookVerificationError, match="project"):
        parse(offline_provider(project_id=999), signed_callback(body))


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe\x00", b'{"payment": NaN}', b"[" * 100_000],
)
def test_bodies_that_cannot_be_verified(raw: bytes) -> None:
    with pytest.raises(WebhookVerificationError):
        parse(offline_provider(), raw)


def _processing_redirect_case() -> dict[str, Any]:
    body = _case("002_redirect_data")
    body.pop("redirect_data")
    body["payment"]["status"] = body["operation"]["status"] = "processing"
    return body


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["payment"].pop("id"),
        lambda b: b["payment"].update(sum={"amount": 1000, "currency": "XYZ"}),
        lambda b: b["payment"].update(sum=None) or b["operation"].pop("sum_initial"),
        lambda b: b.update(redirect_data={"url": "javascript:alert(1)", "method": "POST"}),
        lambda b: b.update(redirect_data={"url": "https://x.example", "method": "PUT"}),
        lambda b: b.update(clarification_fields={"customer": []}),
    ],
)
def test_signed_but_unreadable_callbacks_raise_parse_error(mutate: Any) -> None:
    body = _processing_redirect_case()
    mutate(body)
    with pytest.raises(WebhookParseError):
        parse(offline_provider(project_id=1234), signed_callback(body))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("payment"), "payment"),
        (lambda b: b.update(payment="ABC123"), "payment"),
        (lambda b: b["payment"].update(sum={"amount": "1000", "currency": "KRW"}), "amount"),
        (lambda b: b["payment"].update(sum="1000"), "payment.sum"),
        (lambda b: b["payment"].update(date={"2020-12-10T10": "44:49+0000"}), "payment.date"),
        (lambda b: b.update(operation="sale"), "operation"),
        (lambda b: b.update(display_data={"type": "qr_img"}), "display_data"),
        (lambda b: b.update(display_data=["qr"]), "display_data"),
        (lambda b: b.update(redirect_data={"url": "https://x", "body": {"a": {"b": 1}}}), "body"),
        (lambda b: b["payment"].pop("status") and b["operation"].pop("status"), "status"),
        (lambda b: b.pop("project_id"), "project"),
    ],
)
def test_signed_callbacks_shaped_unlike_any_genuine_one_are_refused(
    mutate: Any, field: str
) -> None:
    # Each of these is what re-arranging a genuine callback's leaves produces: refused as
    # unproven, before anything is translated, and never as a mere parse error.
    body = _processing_redirect_case()
    mutate(body)
    with pytest.raises(WebhookVerificationError, match=field):
        parse(offline_provider(project_id=1234), signed_callback(body))


def test_unknown_status_never_means_paid() -> None:
    body = _case("001_sale_success")
    body["payment"]["status"] = "success pending review"
    event = parse(provider_for(body), signed_callback(body))
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.PENDING
    assert event.charge.provider_status == "success pending review"


def test_unknown_decline_code_is_kept_with_reason_unknown() -> None:
    body = _case("001_sale_decline")
    body["operation"]["code"] = "77777"
    event = parse(provider_for(body), signed_callback(body))
    assert event.charge is not None and event.charge.failure is not None
    assert event.charge.failure.reason == "unknown"
    assert event.charge.failure.code == "77777"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("canceled", "canceled"), ("cancelled", "canceled"), ("expired", "expired")],
)
def test_both_spellings_of_cancelled_and_expiry(status: str, expected: str) -> None:
    body = _case("001_sale_decline")
    body["payment"]["status"] = status
    body["operation"]["code"] = ""
    event = parse(provider_for(body), signed_callback(body))
    assert event.charge is not None
    assert event.charge.status == expected
    assert event.charge.failure is not None and event.charge.failure.reason == expected


def test_partial_refund_callback() -> None:
    body = _case("002_refund_success")
    body["payment"].update(status="partially refunded", sum={"amount": 600, "currency": "KRW"})
    body["operation"]["sum_initial"] = {"amount": 400, "currency": "KRW"}
    event = parse(provider_for(body), signed_callback(body))
    assert event.refund is not None
    assert event.refund.amount.amount == 400
    assert event.remaining_amount == Money(600, "KRW")
    # Neither the original amount nor the refunds before this one are in the callback.
    assert event.charge is None


def test_get_redirect_with_fields_puts_them_in_the_query() -> None:
    body = _case("002_redirect_data")
    body["redirect_data"] = {
        "method": "GET",
        "url": "https://payco.example/go?a=1",
        "body": {"t": "x y"},
        "encrypted": [],
    }
    event = parse(offline_provider(project_id=1234), signed_callback(body))
    assert event.charge is not None
    action = event.charge.next_action
    assert isinstance(action, RedirectToUrl)
    assert action.method == "GET"
    assert action.url == "https://payco.example/go?a=1&t=x+y"


def test_qr_expiry_from_add_info() -> None:
    body = _case("001_display_data_text")
    body["display_data"].append({"type": "add_info", "title": "expired_timestamp", "data": "600"})
    event = parse(offline_provider(project_id=1234), signed_callback(body))
    assert event.charge is not None
    action = event.charge.next_action
    assert isinstance(action, DisplayQrCode) and action.expires_at is not None
    assert action.expires_at.isoformat() == "2020-12-10T10:54:42+00:00"


def test_json_schema_clarification_fields() -> None:
    body = _case("003_clarification")
    body["clarification_fields"] = {
        "customer": {
            "type": "object",
            "properties": {"phone": {"type": "string", "description": "Customer phone"}},
        }
    }
    event = parse(offline_provider(project_id=125), signed_callback(body))
    assert event.charge is not None
    action = event.charge.next_action
    assert isinstance(action, ProvideInformation)
    assert [(f.name, f.description) for f in action.fields] == [
        ("customer.phone", "Customer phone")
    ]


def test_redelivery_has_the_same_event_id_and_a_new_status_a_new_one() -> None:
    intermediate = _case("002_redirect_data")
    final = _case("002_redirect_data")
    final.pop("redirect_data")
    final["payment"]["status"] = final["operation"]["status"] = "success"
    provider = offline_provider(project_id=1234)
    first = parse(provider, signed_callback(intermediate))
    again = parse(provider, signed_callback(intermediate, where="general"))
    done = parse(provider, signed_callback(final))
    assert first.id == again.id
    assert done.id != first.id
    assert done.charge is not None and done.charge.next_action is None


# -- hostile input: only paymux errors, whatever arrives ----------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_paymux_errors(raw: bytes) -> None:
    with pytest.raises(PaymuxError):
        parse(offline_provider(project_id=1234), raw)


@given(
    payment=_json_values,
    operation=_json_values,
    extra=st.dictionaries(
        st.sampled_from(
            ["display_data", "redirect_data", "clarification_fields", "errors", "general"]
        ),
        _json_values,
        max_size=3,
    ),
)
def test_signed_payloads_of_any_shape_raise_only_paymux_errors(
    payment: Any, operation: Any, extra: dict[str, Any]
) -> None:
    body = {"project_id": 1234, "payment": payment, "operation": operation, **extra}
    provider = offline_provider(project_id=1234)
    try:
        event = parse(provider, signed_callback(body))
    except PaymuxError:
        return
    # Whatever got through is a consistent event, and never a success the payload did not state.
    assert event.charge is not None
    if event.charge.status is ChargeStatus.SUCCEEDED:
        assert isinstance(payment, dict)
        stated = payment.get(
            "status", operation.get("status") if isinstance(operation, dict) else None
        )
        assert str(stated).lower() == "success"


@given(
    status=st.text(max_size=20).filter(lambda s: s.lower() not in ("success",)),
    op_status=st.text(max_size=20),
)
def test_no_status_but_success_means_success(status: str, op_status: str) -> None:
    body = _case("001_sale_success")
    body["payment"]["status"] = status or "x"
    body["operation"]["status"] = op_status
    event = parse(provider_for(body), signed_callback(body))
    assert event.charge is not None
    assert event.charge.status is not ChargeStatus.SUCCEEDED
