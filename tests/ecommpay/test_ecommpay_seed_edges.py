"""Edge cases the method pages (seeds 000-003) imply, each from the seed's own text (issue 11.4).

Return pages and KakaoPay's return_url are in test_ecommpay_flows.py
(test_a_declined_customer_never_lands_on_the_success_page and neighbours).
"""

from __future__ import annotations

import base64
import copy
import textwrap
from typing import Any

import pytest
from ecommpay_support import load, make_provider, signed_callback

from paymux import ChargeStatus, DisplayQrCode, WebhookEvent
from paymux.testing import no_network, run_flow

CASES = {c["name"]: c for c in load("seed_callbacks.json")["cases"]}


def _body(name: str) -> dict[str, Any]:
    return copy.deepcopy(CASES[name]["body"])


def _parse(body: dict[str, Any], where: str = "top") -> WebhookEvent:
    # Intermediate callbacks are never confirmed, so no Gate is needed even with the default.
    provider = make_provider(project_id=int(body["project_id"]))
    assert provider.settings.confirm_callbacks
    return run_flow(provider.parse_webhook(signed_callback(body, where=where), {}), no_network)


def _qr_png_base64() -> str:
    data = _body("000_display_data_png")["display_data"][0]["data"]
    assert isinstance(data, str) and len(data) > 152
    return data


def _with_qr(data: str) -> dict[str, Any]:
    # Seed 000: "display_data": [{"type": "qr_img", "title": "QR code", "data": "...AJBkEJMkg
    # IEkGAUn/D/CW8OIAiZ8NAAAAAElFTkSuQmCC"}]: the QR code as a base64 PNG.
    body = _body("000_display_data_png")
    body["display_data"][0]["data"] = data
    return body


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda b64: b64, id="one-line"),
        pytest.param(lambda b64: "\r\n".join(textwrap.wrap(b64, 76)), id="wrapped-76-crlf"),
        pytest.param(lambda b64: "\n".join(textwrap.wrap(b64, 76)) + "\n", id="wrapped-76-lf"),
        pytest.param(lambda b64: b64.rstrip("="), id="no-padding"),
        pytest.param(
            lambda b64: "\n".join(textwrap.wrap(b64.rstrip("="), 76)), id="wrapped-no-padding"
        ),
        pytest.param(lambda b64: f"data:image/png;base64,{b64}", id="data-uri"),
    ],
)
def test_seed_000_qr_png_is_read_as_an_image_however_base64_is_spelled(spelling: Any) -> None:
    b64 = _qr_png_base64()
    assert b64.endswith("=") or len(b64) % 4 == 0
    event = _parse(_with_qr(spelling(b64)))
    assert event.charge is not None
    action = event.charge.next_action
    assert isinstance(action, DisplayQrCode)
    assert action.image_png == base64.b64decode(b64)
    assert action.data is None  # not encoded as text into a QR code of its own


def test_seed_001_text_is_encoded_not_taken_for_an_image() -> None:
    # Seed 001: "data - a string based on which a QR code should be generated".
    event = _parse(_with_qr("https://qr.example/pay/xyz"))
    assert event.charge is not None
    action = event.charge.next_action
    assert isinstance(action, DisplayQrCode)
    assert action.data == "https://qr.example/pay/xyz" and action.image_png is None


@pytest.mark.parametrize("where", ["top", "general"])
def test_seed_001_empty_qr_data_is_an_intermediate_callback_with_nothing_to_show(
    where: str,
) -> None:
    # Seed 001 prints the display_data fragment with "data": "". Refusing it would make ECommPay
    # send it again for days; it says only that the payment is waiting.
    body = _body("001_display_data_empty")
    assert body["display_data"][0]["data"] == ""
    event = _parse(body, where)
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.PENDING
    assert event.charge.next_action is None
    assert event.type == "charge.pending"


def test_a_reissued_qr_code_is_a_new_event_and_a_redelivery_is_not() -> None:
    first = _with_qr("https://qr.example/pay/first")
    reissued = _with_qr("https://qr.example/pay/second")
    # Same operation, same status: only what the customer is shown differs.
    assert first["operation"] == reissued["operation"]
    one = _parse(first)
    again = _parse(first, where="general")  # a redelivery, signature elsewhere
    other = _parse(reissued)
    assert one.id == again.id
    assert other.id != one.id
    assert one.id.startswith(f"{first['operation']['id']}:awaiting customer action:")


def test_redelivered_redirect_keeps_its_id_whatever_the_key_order() -> None:
    body = _body("002_redirect_data")
    shuffled = dict(reversed(list(body.items())))
    shuffled["redirect_data"] = dict(reversed(list(body["redirect_data"].items())))
    assert _parse(body).id == _parse(shuffled).id


def test_final_callbacks_keep_the_plain_operation_and_status_id() -> None:
    body = _body("001_sale_success")
    provider = make_provider(project_id=1234, confirm_callbacks=False)
    event = run_flow(provider.parse_webhook(signed_callback(body), {}), no_network)
    assert event.id == f"{body['operation']['id']}:success"
