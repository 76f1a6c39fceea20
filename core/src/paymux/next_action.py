"""What the customer must do next: follow a redirect, scan a QR code, or supply missing details."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator

from ._base import Model

if TYPE_CHECKING:
    from collections.abc import Mapping


class RedirectToUrl(Model):
    """Send the customer's browser to ``url``; for ``POST``, submit ``form`` as the body."""

    type: Literal["redirect_to_url"] = "redirect_to_url"
    url: str = Field(min_length=1)
    method: Literal["GET", "POST"] = "GET"
    form: tuple[tuple[str, str], ...] = ()
    """POST fields in the order the provider gave them (names may repeat)."""

    @field_validator("form", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if isinstance(value, dict):
            return tuple((str(k), "" if v is None else str(v)) for k, v in value.items())
        return value

    @property
    def form_fields(self) -> Mapping[str, str]:
        return dict(self.form)

    def html(self, *, title: str = "Redirecting to payment", auto_submit: bool = True) -> str:
        """A self-contained page that takes the browser on; every value is HTML-escaped.

        A GET redirect becomes a link and a meta refresh; a POST becomes a form that submits itself
        (with a button for browsers without JavaScript).
        """
        esc = html.escape
        if self.method == "GET":
            url = esc(self.url, quote=True)
            return (
                '<!doctype html><html><head><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="0;url={url}"><title>{esc(title)}</title>'
                f'</head><body><p><a href="{url}">Continue to payment</a></p></body></html>'
            )
        fields = "".join(
            f'<input type="hidden" name="{esc(k, quote=True)}" value="{esc(v, quote=True)}">'
            for k, v in self.form
        )
        script = (
            "<script>document.getElementById('paymux-redirect').submit();</script>"
            if auto_submit
            else ""
        )
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title></head><body>"
            f'<form id="paymux-redirect" method="post" action="{esc(self.url, quote=True)}">'
            f'{fields}<noscript><button type="submit">Continue to payment</button></noscript>'
            f"</form>{script}</body></html>"
        )


class DisplayQrCode(Model):
    """Show a QR code for the customer to scan with their wallet app.

    ``data`` is the text to encode (render it with :meth:`svg`, :meth:`png` or :meth:`terminal`);
    some providers send a ready image instead, in ``image_png`` (bytes) or ``image_url``.
    """

    type: Literal["display_qr_code"] = "display_qr_code"
    data: str | None = None
    image_png: bytes | None = None
    image_url: str | None = None
    expires_at: datetime | None = None

    @field_validator("image_png", mode="before")
    @classmethod
    def _b64(cls, value: object) -> object:
        # JSON round-trip: pydantic dumps bytes as base64 when ser_json_bytes="base64", in the
        # URL-safe alphabet ("-", "_"); providers send the standard one. Both are read.
        if isinstance(value, str):
            return base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        return value

    model_config = Model.model_config | {"ser_json_bytes": "base64", "val_json_bytes": "base64"}

    def _qr(self) -> Any:
        if self.data is None:
            from .errors import InvalidRequest

            raise InvalidRequest(
                "this QR code came as a ready image; use image_png or image_url", field="data"
            )
        try:
            import segno
        except ImportError:  # pragma: no cover - depends on the installed extras
            from .errors import ConfigurationError

            raise ConfigurationError(
                "rendering QR codes needs the 'qr' extra: pip install 'paymux[qr]'"
            ) from None
        if self.data.isascii():
            return segno.make(self.data, error="m", micro=False)
        # Non-ASCII text as UTF-8 with an ECI header: without it, a scanner has to guess the
        # charset, and Latin-1 bytes are commonly misread as Shift_JIS.
        return segno.make(self.data, error="m", micro=False, encoding="utf-8", eci=True)

    def svg(self, *, scale: int = 4) -> str:
        """The QR code as an SVG document (ISO/IEC 18004)."""
        qr = self._qr()
        return str(qr.svg_inline(scale=scale))

    def png(self, *, scale: int = 4) -> bytes:
        """The QR code as PNG bytes; the provider's own image when it sent one."""
        if self.data is None and self.image_png is not None:
            return self.image_png
        import io

        buffer = io.BytesIO()
        self._qr().save(buffer, kind="png", scale=scale)
        return buffer.getvalue()

    def terminal(self) -> str:
        """The QR code drawn with block characters, for a terminal."""
        import io

        buffer = io.StringIO()
        self._qr().terminal(out=buffer, compact=True)
        return buffer.getvalue()


class RequiredField(Model):
    name: str
    """The provider's dotted name, e.g. ``customer.phone``; answer it under this name."""
    type: str = "string"
    description: str = ""


class ProvideInformation(Model):
    """The provider needs more customer details before it can go on.

    Answer with ``Gateway.clarify(charge, {"customer.phone": "..."})``.
    """

    type: Literal["provide_information"] = "provide_information"
    fields: tuple[RequiredField, ...]


NextAction = Annotated[
    RedirectToUrl | DisplayQrCode | ProvideInformation, Field(discriminator="type")
]
