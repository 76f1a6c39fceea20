"""What checkout pages show: QR codes that decode back, redirect pages that escape everything."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from paymux import Charge, DisplayQrCode, Money, RedirectToUrl
from paymux.errors import InvalidRequest


def decode(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize(
    "data",
    [
        "https://qr.kakaopay.com/FRXYZ12345",
        "kakaotalk://kakaopay/pg?url=https://pg-web.kakao.com/v1/abc",
        "결제 10,000원 — order #345678",
    ],
)
def test_png_decodes_back_to_the_data(data: str) -> None:
    assert decode(DisplayQrCode(data=data).png(scale=4)) == [data]


@settings(max_examples=40, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=120,
    )
)
def test_any_text_round_trips_through_the_rendered_qr(data: str) -> None:
    assert decode(DisplayQrCode(data=data).png(scale=3)) == [data]


def test_svg_and_terminal_renderings() -> None:
    qr = DisplayQrCode(data="https://pay.example/qr/1")
    svg = qr.svg()
    assert svg.startswith("<svg") and "</svg>" in svg
    drawing = qr.terminal()
    assert len(drawing.splitlines()) > 10
    assert set(drawing) - set(" \n█▀▄") == set() or "\x1b" in drawing


def test_provider_image_is_returned_as_is() -> None:
    png = DisplayQrCode(data="x").png()
    qr = DisplayQrCode(image_png=png)
    assert qr.png() == png
    with pytest.raises(InvalidRequest, match="image"):
        qr.svg()


def test_qr_image_survives_json_round_trip() -> None:
    charge = Charge(
        provider="p",
        id="1",
        amount=Money(1, "KRW"),
        status="requires_action",
        next_action=DisplayQrCode(image_png=b"\x89PNG\r\n\x1a\n\x00"),
    )
    assert Charge.model_validate_json(charge.model_dump_json()) == charge


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input":
            self.fields.append((values.get("name") or "", values.get("value") or ""))
        elif tag == "script":
            self.scripts += 1


NASTY = [
    ("quote", '"><script>alert(1)</script>'),
    ("apostrophe", "it's <b>bold</b> & 'quoted'"),
    ("korean", "결제하기 ₩10,000"),
    ("empty", ""),
    ("<name>", "x"),
]


def test_post_redirect_form_survives_hostile_values() -> None:
    redirect = RedirectToUrl(url='https://partner.example/pay?a=1&b="2"', method="POST", form=NASTY)
    page = redirect.html()
    parser = _Form()
    parser.feed(page)
    assert parser.action == 'https://partner.example/pay?a=1&b="2"'
    assert parser.fields == NASTY
    assert parser.scripts == 1, "only paymux's own auto-submit script"
    assert "<script>alert" not in page


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=8))
def test_any_form_values_come_back_exactly(form: list[tuple[str, str]]) -> None:
    clean = [
        (k, v)
        for k, v in form
        if not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\r\ud800-\udfff]", k + v)
    ]
    parser = _Form()
    parser.feed(RedirectToUrl(url="https://p.example/", method="POST", form=clean).html())
    assert parser.fields == clean


def test_get_redirect_page_links_to_the_url() -> None:
    page = RedirectToUrl(url="https://pay.example/a?x=1&y=<2>").html()
    assert 'href="https://pay.example/a?x=1&amp;y=&lt;2&gt;"' in page
