"""The signature scheme against ECommPay's own vectors, and its properties."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecommpay_support import load

from paymux_ecommpay import sign, string_to_sign, verify
from paymux_ecommpay.signing import signed

VECTORS = load("signature_vectors.json")
BY_NAME = {v["name"]: v for v in VECTORS["vectors"]}


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_reference_vector_signs_and_verifies(vector: dict[str, Any]) -> None:
    params = vector["params"]
    assert string_to_sign(params) == vector["string_to_sign"]
    assert sign(params, vector["secret"]) == vector["signature"]
    assert verify({**params, "signature": vector["signature"]}, vector["secret"])
    assert not verify({**params, "signature": vector["signature"]}, vector["secret"] + "x")


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS["upstream"] if "json" in v or "signature" in v],
    ids=lambda v: v["name"],
)
def test_official_sdk_vector(vector: dict[str, Any]) -> None:
    if "json" in vector:
        assert string_to_sign(json.loads(vector["json"])) == vector["string_to_sign"]
    else:
        assert sign(vector["params"], vector["secret"]) == vector["signature"]


def test_callback_with_signature_in_general_verifies() -> None:
    example = VECTORS["callback_as_received"]
    body = example["body"]
    assert verify(body, example["secret"])
    # general.project_id and general.payment_id are signed like any other field.
    tampered = copy.deepcopy(body)
    tampered["general"]["payment_id"] = "order-0002"
    assert not verify(tampered, example["secret"])


def test_bytewise_index_order_of_python_sdk_is_accepted_for_long_lists() -> None:
    vector = BY_NAME["TV4_list_with_12_elements_ordering"]
    bytewise = vector["other_sdk_signatures"]["paymentpage-sdk-python@35ed5ec (GitHub master)"]
    assert bytewise != vector["signature"]
    assert verify({**vector["params"], "signature": bytewise}, vector["secret"])
    assert string_to_sign(vector["params"], natural=False).startswith(
        "items:0:i0;items:1:i1;items:10"
    )


@pytest.mark.parametrize(
    ("name", "sdk"),
    [
        # PyPI 1.0.6 signs null as "None"; the platform signs it as an empty string.
        ("TV3_callback_payco_redirect_with_null", "ecommpay-sdk==1.0.6 (PyPI)"),
        # Without doubling ':' in keys, 'tax:rate' would read as two levels.
        ("TV5_key_containing_colon", 'paymentpage-sdk-js@b53f674 (npm "ecommpay")'),
    ],
)
def test_signatures_of_known_sdk_bugs_are_refused(name: str, sdk: str) -> None:
    vector = BY_NAME[name]
    wrong = vector["other_sdk_signatures"][sdk]
    assert not verify({**vector["params"], "signature": wrong}, vector["secret"])


def test_signed_request_carries_signature_in_general() -> None:
    vector = BY_NAME["TV1_gate_kakaopay_sale_request"]
    body = signed(vector["params"], vector["secret"])
    assert body["general"]["signature"] == vector["signature"]
    assert "signature" not in vector["params"]["general"]  # the input is not mutated
    assert verify(body, vector["secret"])


def test_frame_mode_and_empty_containers_are_not_signed() -> None:
    base = {"payment": {"id": "p-1"}, "customer": {"id": "c"}}
    signature = sign(base, "k")
    assert sign({**base, "frame_mode": "popup", "extra": {}, "more": []}, "k") == signature
    assert sign({**base, "customer": {"id": "c", "frame_mode": "iframe"}}, "k") == signature


def test_unsigned_or_too_deep_payloads_do_not_verify() -> None:
    assert not verify({"payment": {"id": "x"}}, "k")
    assert not verify({"payment": {"id": "x"}, "signature": ""}, "k")
    assert not verify({"payment": {"id": "x"}, "signature": 12}, "k")
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"a": deep}
    assert not verify({"deep": deep, "signature": "AAAA"}, "k")


# Properties of the signer are checked against ECommPay's official SDK as an oracle (not against
# paymux's own sign()), in test_ecommpay_sdk_vectors.py; attacks on the signed text are in
# tests/security/test_security_webhook_fuzz.py.
