"""The signature scheme against ECommPay's own vectors, and its properties."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from ecommpay_support import load
from hypothesis import assume, given
from hypothesis import strategies as st

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


# -- properties --------------------------------------------------------------------------------

_keys = st.text(min_size=1, max_size=8).filter(lambda k: k not in ("signature", "frame_mode"))
_scalars = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=25,
)
_params = st.dictionaries(_keys, _json, min_size=1, max_size=5)
_secrets = st.text(min_size=1, max_size=20)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


@given(params=_params, secret=_secrets, where=st.sampled_from(["top", "general"]))
def test_sign_then_verify_round_trips(params: dict[str, Any], secret: str, where: str) -> None:
    signature = sign(params, secret)
    if where == "top":
        assert verify({**params, "signature": signature}, secret)
    else:
        general = params.get("general")
        assume(isinstance(general, dict) or general is None)
        body = copy.deepcopy(params)
        body.setdefault("general", {})
        # An empty general object is not signed, so moving the signature into it changes nothing.
        body["general"]["signature"] = signature
        assert verify(body, secret)


@given(params=_params, secret=_secrets, data=st.data())
def test_any_change_to_a_signed_value_breaks_verification(
    params: dict[str, Any], secret: str, data: st.DataObject
) -> None:
    leaves = _leaves(params)
    assume(leaves)
    body = {**copy.deepcopy(params), "signature": sign(params, secret)}
    path = data.draw(st.sampled_from(leaves))
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    old = node[path[-1]]
    # Appending to the value as the platform renders it changes the signed text for sure.
    rendered = (
        {True: "1", False: "0", None: ""}.get(old) if old in (True, False, None) else str(old)
    )
    node[path[-1]] = f"{rendered}{data.draw(st.text(min_size=1, max_size=3))}"
    assert not verify(body, secret)


@given(params=_params, secret=_secrets, key=_keys, value=_scalars)
def test_an_added_field_breaks_verification(
    params: dict[str, Any], secret: str, key: str, value: Any
) -> None:
    assume(key not in params)
    body = {**params, "signature": sign(params, secret)}
    body[key] = value
    assert not verify(body, secret)


@given(params=_params, secret=_secrets, other=_secrets)
def test_another_key_does_not_verify(params: dict[str, Any], secret: str, other: str) -> None:
    assume(other != secret)
    assert not verify({**params, "signature": sign(params, secret)}, other)
