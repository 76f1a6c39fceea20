"""The example checkout (docs/examples/checkout) in a real browser, against the emulators.

Headless Chromium from the distribution's packages (``apt-get install chromium``; ``.ci/run``
installs it), driven by Playwright. Each flow starts on the cart, follows what the shop shows —
a QR code, an auto-submitted POST redirect, a GET redirect, a question for the customer — to the
sandbox's customer page, presses a button there, and checks the receipt that the shop shows once
the verified callback has reached its ledger. Screenshots of every step go to
``test-artifacts/browser/``.

Without Chromium or Playwright these tests skip on a developer machine; with ``CI`` set they fail.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # docs/examples/checkout is imported from the repository root

from docs.examples.checkout import OPTIONS, RunningShop, running_shop  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Request

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

pytestmark = pytest.mark.browser


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (it is in the dev group: make setup)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run installs it)"
    return None


@pytest.fixture(scope="module")
def shop() -> Iterator[RunningShop]:
    with running_shop() as running:
        assert running.secure_url, "the shop needs the openssl command for its HTTPS listener"
        yield running


@pytest.fixture(scope="module")
def browser(
    shop: RunningShop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Chromium, closed before the shop stops (open connections would hold the shop's shutdown)."""
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            ignore_https_errors=True,  # the shop's HTTPS listener has a self-signed certificate
            viewport={"width": 900, "height": 900},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


class Customer:
    """One customer in one tab, paying with one option; every step is saved as a screenshot."""

    def __init__(self, page: Page, shop: RunningShop, option: str, scenario: str) -> None:
        self.page = page
        self.shop = shop
        self.option = option
        self.price = str(OPTIONS[option].price)
        self.name = f"{option}-{scenario}"
        self.step = 0

    def shot(self, what: str) -> None:
        self.step += 1
        path = ARTIFACTS / f"{self.name}-{self.step:02d}-{what}.png"
        self.page.screenshot(path=path, full_page=True)

    def heading(self) -> str:
        return self.page.inner_text("h1")

    def checkout(self) -> None:
        """The cart: choose the payment method and press Pay."""
        self.page.goto(f"{self.shop.url}/")
        assert self.heading() == "Your cart"
        assert self.price in self.page.inner_text(f"label:has(#option-{self.option})")
        self.page.check(f"#option-{self.option}")
        self.shot("cart")
        self.page.click("#checkout")

    def at_provider(self, provider: str, action: str) -> None:
        """The sandbox's customer page: check what is asked for, then pay, decline or abandon."""
        self.page.wait_for_url(f"{self.shop.sandbox.base_url}/customer/{provider}/*")
        assert self.heading() == f"Sandbox {provider} payment"
        assert self.page.inner_text("#amount") == self.price
        self.shot(f"{provider}-page")
        self.page.click(f"#{action}")

    def receipt(self, what: str = "receipt") -> dict[str, str]:
        """The receipt's rows, once the shop shows it (after the verified callback)."""
        self.page.wait_for_url("**/receipt")
        assert self.heading() == "Receipt"
        self.shot(what)
        rows = self.page.locator("th").all_inner_texts()
        shown = {
            row: self.page.inner_text(f"#receipt-{row.lower().replace(' ', '-')}") for row in rows
        }
        shown["outcome"] = self.page.inner_text("#outcome")
        return shown

    def refund(self) -> dict[str, str]:
        """Press the refund button; the receipt comes back once the refund is confirmed."""
        assert self.page.inner_text("#refund") == f"Refund {self.price}"
        with self.page.expect_navigation():
            self.page.click("#refund")
        return self.receipt("refunded")


@pytest.fixture
def customer(
    browser: BrowserContext, shop: RunningShop
) -> Iterator[Callable[[str, str], Customer]]:
    pages: list[Page] = []

    def start(option: str, scenario: str) -> Customer:
        pages.append(browser.new_page())
        return Customer(pages[-1], shop, option, scenario)

    yield start
    for page in pages:
        page.close()


def posted_to_partner(request: Request) -> bool:
    """The browser submitted the provider's POST form (to the emulated payment partner)."""
    return request.method == "POST" and "/ecommpay/partner/" in request.url


def decode_qr(png: bytes) -> list[str]:
    """What a scanner reads from a screenshot (zxing-cpp, independent of the QR encoder)."""
    import zxingcpp
    from PIL import Image

    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


# -- the flows -------------------------------------------------------------------------------------


def test_kakaopay_korea_shows_a_scannable_qr_code_then_pays_and_refunds(
    customer: Callable[[str, str], Customer],
) -> None:
    shopper = customer("kakaopay-kr", "paid-refunded")
    shopper.checkout()
    # ECommPay sends the QR code in a callback after the create: the page waits for it.
    shopper.page.wait_for_selector("#qr svg")
    assert shopper.heading() == "Scan to pay"
    assert shopper.page.inner_text("#amount") == shopper.price
    shopper.shot("qr-code")
    wallet_link = shopper.page.get_attribute("#open-wallet", "href")
    assert decode_qr(shopper.page.locator("#qr svg").screenshot()) == [wallet_link]

    shopper.page.click("#open-wallet")  # what scanning it does: the wallet's payment page
    shopper.at_provider("ecommpay", "pay")
    paid = shopper.receipt()
    assert paid["Status"] == "succeeded"
    assert paid["outcome"].startswith("Thank you")
    assert paid["Method"] == "kakaopay via ecommpay"
    assert paid["Amount"] == "25,000 KRW"

    refunded = shopper.refund()
    assert refunded["Status"] == "refunded"
    assert refunded["Refunded"] == "25,000 KRW"
    assert shopper.page.locator("#refund").count() == 0


def test_payco_korea_auto_submits_the_post_redirect_and_shows_a_decline(
    customer: Callable[[str, str], Customer],
) -> None:
    shopper = customer("payco-kr", "declined")
    # The shop answers with RedirectToUrl.html(): a form that posts itself to the partner.
    with shopper.page.expect_request(posted_to_partner):
        shopper.checkout()
    shopper.at_provider("ecommpay", "decline")
    declined = shopper.receipt()
    assert declined["Status"] == "failed"
    assert declined["Reason"] == "declined"
    assert declined["outcome"] == "The payment did not go through."
    assert shopper.page.locator("#refund").count() == 0, "nothing to refund on a decline"


def test_card_kenya_asks_for_the_phone_number_then_pays_and_refunds(
    customer: Callable[[str, str], Customer],
) -> None:
    shopper = customer("card-ke", "clarified-paid-refunded")
    shopper.checkout()
    # The customer gave no phone number; ECommPay asks for one (ProvideInformation).
    shopper.page.wait_for_selector("#field-customer-phone")
    assert shopper.heading() == "A few more details"
    shopper.shot("details-asked")
    shopper.page.fill("#field-customer-phone", "+254700000001")
    shopper.shot("details-filled")
    with shopper.page.expect_request(posted_to_partner):
        shopper.page.click("#send-details")  # gw.clarify, then the partner's POST redirect

    shopper.at_provider("ecommpay", "pay")
    paid = shopper.receipt()
    assert paid["Status"] == "succeeded"
    assert paid["Method"] == "card via ecommpay"
    assert paid["Amount"] == "2,500.00 KES"

    refunded = shopper.refund()  # card-partner refunds in full only; the button offers all of it
    assert refunded["Status"] == "refunded"
    assert refunded["Refunded"] == "2,500.00 KES"


def test_kakaopay_singapore_through_omise_returns_over_https_and_refunds(
    customer: Callable[[str, str], Customer], shop: RunningShop
) -> None:
    shopper = customer("kakaopay-sg", "paid-refunded")
    # A GET redirect to Omise's authorize URL, which leads to the customer's page.
    with shopper.page.expect_request(lambda r: r.method == "GET" and r.url.endswith("/authorize")):
        shopper.checkout()
    shopper.at_provider("omise", "pay")
    paid = shopper.receipt()
    assert shop.secure_url is not None
    assert shopper.page.url.startswith(shop.secure_url), "Omise returns customers over HTTPS"
    assert paid["Status"] == "succeeded"
    assert paid["Method"] == "kakaopay via omise"
    assert paid["Amount"] == "15.00 SGD"

    refunded = shopper.refund()
    assert refunded["Status"] == "refunded"
    assert refunded["Refunded"] == "15.00 SGD"


def test_kakaopay_singapore_abandoned_ends_expired(
    customer: Callable[[str, str], Customer],
) -> None:
    shopper = customer("kakaopay-sg", "abandoned")
    shopper.checkout()
    shopper.at_provider("omise", "abandon")
    expired = shopper.receipt()
    assert expired["Status"] == "expired"
    assert expired["outcome"] == "The payment was not completed in time."
    assert shopper.page.locator("#refund").count() == 0


# -- the shop's webhook endpoint, without a browser ------------------------------------------------


def test_forged_callbacks_are_refused(shop: RunningShop) -> None:
    with httpx.Client(base_url=shop.url, trust_env=False) as client:
        forged = client.post(
            "/webhooks/ecommpay",
            json={
                "project_id": 210,
                "payment": {"id": "order-x", "status": "success"},
                "signature": "AAAA",
            },
        )
        assert forged.status_code == 400
        assert client.post("/webhooks/omise", content=b"{}").status_code == 400
        assert client.post("/webhooks/nopay", content=b"{}").status_code == 404


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_option_starts_a_payment(shop: RunningShop, option: str) -> None:
    """No browser needed: each option's charge request passes the provider's checks (the return
    URLs, the customer's details), so Pay leads to the order page, not to an error page."""
    with httpx.Client(base_url=shop.url, trust_env=False, timeout=30) as client:
        started = client.post("/checkout", data={"option": option})
        assert started.status_code == 303, started.text
        assert started.headers["location"].startswith("/orders/order-")
        if option == "card-ke":  # the shop knows the e-mail: only the phone number is asked for
            asked = client.get(started.headers["location"]).text
            assert 'id="field-customer-phone"' in asked
            assert 'id="field-customer-email"' not in asked


def test_unknown_orders_and_options(shop: RunningShop) -> None:
    with httpx.Client(base_url=shop.url, trust_env=False) as client:
        assert client.get("/orders/order-unknown/receipt").status_code == 303  # to the return page
        assert client.get("/orders/order-unknown").status_code == 404
        assert client.get("/orders/order-unknown/return").status_code == 404
        assert client.post("/checkout", data={"option": "gold-bars"}).status_code == 400


# -- every sandbox account's callbacks reach the shop ----------------------------------------------


def test_every_sandbox_account_sends_its_callbacks_to_the_shop(shop: RunningShop) -> None:
    """Derived from the sandbox, not listed: the Thai Omise account (a sibling of ``omise``)
    included, so no account's callbacks end in the sandbox's inbox, out of the shop's sight."""
    hub = shop.sandbox.hub
    assert {"ecommpay", "omise", "omise_th"} <= set(shop.sandbox.emulators)
    for name in shop.sandbox.emulators:
        assert hub.merchant_url(name) == f"{shop.url}/webhooks/{name}"


@pytest.mark.parametrize(
    ("option", "account"), [("promptpay-th", "omise_th"), ("paynow-sg", "omise")]
)
def test_a_qr_payment_is_confirmed_by_the_callback_the_shop_receives(
    shop: RunningShop, option: str, account: str
) -> None:
    """No browser needed: the shop shows Omise's QR image, the customer pays it (the sandbox's
    customer API), and the receipt appears because the account's signed callback reached the
    shop's ledger, none the sandbox's own inbox."""
    inbox_before = len(shop.sandbox.hub.inbox(account))
    with (
        httpx.Client(base_url=shop.url, trust_env=False, timeout=30) as client,
        httpx.Client(base_url=shop.sandbox.base_url, trust_env=False, timeout=30) as customer,
    ):
        started = client.post("/checkout", data={"option": option})
        assert started.status_code == 303, started.text
        order = started.headers["location"]
        reference = order.rsplit("/", 1)[-1]
        shown = client.get(order)
        assert shown.status_code == 200
        assert 'src="data:image/png;base64,' in shown.text  # the image itself, downloaded
        assert customer.post(f"/customer/api/{account}/{reference}/pay").status_code == 200
        receipt = client.get(f"{order}/return", follow_redirects=True)
        assert receipt.status_code == 200
        assert "Thank you: your payment was received." in receipt.text
    assert len(shop.sandbox.hub.inbox(account)) == inbox_before
