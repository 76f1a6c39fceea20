"""The QR image of an offline (PromptPay, PayNow) charge, fetched so the checkout can show it."""

from __future__ import annotations

from urllib.parse import urlsplit

from paymux import Charge, DisplayQrCode
from paymux.provider import Flow

from .requests import RequestBuilder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def with_qr_image(requests: RequestBuilder, base_url: str, charge: Charge) -> Flow[Charge]:
    """``charge`` with its QR code as PNG bytes, when Omise sent only a link to the image.

    Omise's offline charges carry ``source.scannable_code.image.download_uri`` and never the
    text the QR encodes, so the checkout gets the image itself (``DisplayQrCode.image_png``)
    and keeps the link (``image_url``). A failed download leaves the link only: the charge
    exists either way. Done when the charge is created (or found again by a repeated create);
    a retrieval returns the link only."""
    action = charge.next_action
    if (
        not isinstance(action, DisplayQrCode)
        or action.image_png is not None
        or not action.image_url
        or not _downloadable(action.image_url, base_url)
    ):
        return charge
    response = yield requests.download(action.image_url)
    png = response.content
    if response.status_code != 200 or not png.startswith(PNG_SIGNATURE):
        return charge
    return charge.model_copy(update={"next_action": action.model_copy(update={"image_png": png})})


def _downloadable(url: str, base_url: str) -> bool:
    # HTTPS, or the API's own origin (an emulator on loopback serves plain HTTP).
    parts, api = urlsplit(url), urlsplit(base_url)
    return parts.scheme == "https" or (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
