"""The QR codes the Omise emulator shows for PromptPay and PayNow charges.

Omise hands out a PNG (``source.scannable_code.image``, ``filename: "qrcode.png"``) and never the
text it encodes. The emulator draws one that a banking app could read: an EMVCo merchant-presented
payload (EMV QRCPS), the format both schemes use, with the amount fixed, the account's currency
and country, and the CRC-16 the format ends with.

- PromptPay (Thai QR Payment, bill payment): merchant account template ``30`` with the PromptPay
  bill-payment application id, a biller id and the charge id as reference.
- PayNow (SGQR): merchant account template ``26`` with ``SG.PAYNOW``, a UEN proxy, "amount not
  editable" and the expiry date.
"""

from __future__ import annotations

import io
from datetime import datetime

# Emulated merchant identities: a Thai biller id (13-digit tax id + 2-digit suffix) and a
# Singapore UEN. Not real businesses.
PROMPTPAY_BILLER_ID = "010555500000001"
PAYNOW_UEN = "202600001PMXS"
MERCHANT_NAME = "PAYMUX SANDBOX"

PROMPTPAY_BILL_PAYMENT_AID = "A000000677010112"
_CURRENCY_NUMBERS = {"THB": "764", "SGD": "702"}


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMVCo field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def crc16(text: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as EMVCo payloads end with."""
    crc = 0xFFFF
    for byte in text.encode("ascii"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _amount(minor: int) -> str:
    # Both currencies have two decimals (ISO 4217).
    return f"{minor // 100}.{minor % 100:02d}"


def _finish(fields: list[str]) -> str:
    body = "".join(fields) + "6304"
    return body + crc16(body)


def payload(method: str, *, amount: int, currency: str, reference: str, expires: datetime) -> str:
    """The text a PromptPay or PayNow QR code of this charge encodes."""
    head = [_field("00", "01"), _field("01", "12")]  # format 01, dynamic (one payment)
    # The reference is the charge id's random part: the field allows 20 (PromptPay) / 25 chars.
    ref = reference.rsplit("_", 1)[-1][:20].upper()
    if method == "promptpay":
        account = _field(
            "30",
            _field("00", PROMPTPAY_BILL_PAYMENT_AID)
            + _field("01", PROMPTPAY_BILLER_ID)
            + _field("02", ref),
        )
        rest = [_field("58", "TH"), _field("59", MERCHANT_NAME)]
    elif method == "paynow":
        account = _field(
            "26",
            _field("00", "SG.PAYNOW")
            + _field("01", "2")  # proxy type: UEN
            + _field("02", PAYNOW_UEN)
            + _field("03", "0")  # amount not editable
            + _field("04", expires.strftime("%Y%m%d")),
        )
        rest = [
            _field("58", "SG"),
            _field("59", MERCHANT_NAME),
            _field("60", "Singapore"),
            _field("62", _field("01", ref)),
        ]
    else:
        raise ValueError(f"{method} has no QR code")
    money = [_field("53", _CURRENCY_NUMBERS[currency]), _field("54", _amount(amount))]
    return _finish([*head, account, _field("52", "0000"), *money, *rest])


def png(text: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()
