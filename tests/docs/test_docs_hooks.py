"""The MkDocs hook that generates the status-mapping page from the installed plugins' tables."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from plugin_dist import installed

import paymux.plugins

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "hooks.py"

PROVIDER = """
from paymux.provider import Provider, ProviderSettings


class Settings(ProviderSettings):
    pass


class {name}(Provider[Settings]):
    plugin_name = "{plugin}"
    settings_model = Settings
    {extra}

    def capabilities(self):
        return []

    def create_charge(self, request):
        yield from ()

    def retrieve_charge(self, lookup):
        yield from ()

    def refund(self, charge, amount, *, reason, reference):
        yield from ()

    def parse_webhook(self, body, headers):
        yield from ()
"""

DECLARED = """@classmethod
    def status_tables(cls):
        return {"Charge status": [("OK", "succeeded", "the only one")]}"""

TABLES = """
from paymux import ChargeStatus, FailureReason, RefundStatus

CHARGE_STATUSES = {"waiting": ChargeStatus.REQUIRES_ACTION, "done": ChargeStatus.SUCCEEDED}
UNKNOWN_CHARGE_STATUS = ChargeStatus.PENDING
REFUND_STATUSES = {"closed": RefundStatus.SUCCEEDED}
CODES = {"E1": FailureReason.INSUFFICIENT_FUNDS}
NOT_A_TABLE = {"a": 1}
MIXED = {"a": ChargeStatus.PENDING, "b": RefundStatus.PENDING}
"""


@pytest.fixture
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paymux_docs_hooks", HOOKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_plugin(root: Path, package: str, source: str, tables: str | None = None) -> None:
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(source))
    if tables is not None:
        (folder / "responses.py").write_text(tables)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    write_plugin(
        site,
        "paymux_declared",
        PROVIDER.format(name="Declared", plugin="declared", extra=DECLARED),
    )
    write_plugin(
        site,
        "paymux_tabled",
        PROVIDER.format(name="Tabled", plugin="tabled", extra=""),
        TABLES,
    )
    write_plugin(site, "paymux_bare", PROVIDER.format(name="Bare", plugin="bare", extra=""))
    entry_points = {
        "declared": "paymux_declared:Declared",
        "tabled": "paymux_tabled:Tabled",
        "bare": "paymux_bare:Bare",
    }
    real_discover = paymux.plugins.discover

    def only_these(group: str = paymux.plugins.PROVIDERS_GROUP, *, refresh: bool = False) -> Any:
        # Leave the installed real plugins out: this checks the hook, not their tables.
        report = real_discover(group, refresh=refresh)
        return paymux.plugins.PluginReport(
            group, {k: v for k, v in report.loaded.items() if k in entry_points}, {}
        )

    with installed(site, entry_points, dist="paymux_docs_plugins"):
        monkeypatch.setattr(paymux.plugins, "discover", only_these)
        yield
    for name in list(sys.modules):
        if name.split(".")[0] in {"paymux_declared", "paymux_tabled", "paymux_bare"}:
            del sys.modules[name]


def test_declared_tables_are_used_as_they_are(hooks: ModuleType, plugins: None) -> None:
    page = hooks.status_tables()
    section = page.split("## `declared`")[1].split("## `")[0]
    assert "### Charge status" in section
    assert "| `OK` | `succeeded` | the only one |" in section


def test_module_level_tables_are_found_when_none_are_declared(
    hooks: ModuleType, plugins: None
) -> None:
    page = hooks.status_tables()
    section = page.split("## `tabled`")[1]
    assert "### `paymux_tabled.responses.CHARGE_STATUSES` → `ChargeStatus`" in section
    assert "| `done` | `succeeded` | final, paid |" in section
    assert "| `waiting` | `requires_action` |  |" in section
    assert "`paymux_tabled.responses.REFUND_STATUSES` → `RefundStatus`" in section
    assert "| `E1` | `insufficient_funds` |  |" in section
    assert "NOT_A_TABLE" not in section and "MIXED" not in section
    assert "| `paymux_tabled.responses.UNKNOWN_CHARGE_STATUS` | `pending` |  |" in section


def test_a_plugin_without_tables_says_so(hooks: ModuleType, plugins: None) -> None:
    section = hooks.status_tables().split("## `bare`")[1].split("## `")[0]
    assert "exposes no mapping tables" in section


def test_the_markers_are_replaced(hooks: ModuleType, plugins: None) -> None:
    page = hooks.on_page_markdown(
        "# Status mapping\n\n<!-- paymux:charge-statuses -->\n\n<!-- paymux:status-tables -->\n",
        page=None,
        config=None,
        files=None,
    )
    assert "<!--" not in page
    assert "| `succeeded` | yes | yes |" in page
    assert "| `requires_action` | no | no |" in page
    assert "## `tabled`" in page


def real_section(hooks: ModuleType, provider: str) -> str:
    page = hooks.status_tables()
    return page.split(f"## `{provider}`")[1].split("\n## `")[0]


def test_the_real_plugins_show_their_conditional_mappings(hooks: ModuleType) -> None:
    ecommpay = real_section(hooks, "ecommpay").split("### When more than the value decides")[1]
    assert (
        "| `awaiting customer action` | with `display_data` (a QR code to show) "
        "| `requires_action` |" in ecommpay
    )
    assert "| `awaiting customer action` | with nothing to show yet" in ecommpay
    assert "part of the amount | `partially_refunded` |" in ecommpay
    assert "the whole amount | `refunded` |" in ecommpay

    omise = real_section(hooks, "omise").split("### When more than the value decides")[1]
    assert "| `pending` | with `authorize_uri` (a page to send the customer to) " in omise
    assert "| `requires_action` |" in omise
    assert (
        "| `successful` | with `refunded_amount` below `amount` | `partially_refunded` |" in omise
    )
    assert "| `successful` | with `refunded_amount` equal to `amount` | `refunded` |" in omise


def test_the_conditional_mappings_come_from_the_plugins_code(
    hooks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break the rule in the code: the page must follow, since it runs the code, not a copy of it.
    import paymux_ecommpay.responses_status
    import paymux_omise.responses

    monkeypatch.setattr(paymux_omise.responses, "next_action", lambda *args: None)
    monkeypatch.setattr(paymux_ecommpay.responses_status, "next_action", lambda *args: None)
    omise = real_section(hooks, "omise")
    assert (
        "| `pending` | with `authorize_uri` (a page to send the customer to) | `pending` |" in omise
    )
    ecommpay = real_section(hooks, "ecommpay")
    assert "with `display_data` (a QR code to show) | `pending` |" in ecommpay
