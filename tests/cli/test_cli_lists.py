"""``paymux charges list`` and ``paymux refunds list``: the ledger's pages at the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi, gateway

from paymux import Ledger, Money
from paymux.cli import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    api = LedgerPayApi()
    clock = Clock()
    with gateway(api) as gw, Ledger(gw, url=url, clock=clock) as ledger:
        for reference in ("cli-1", "cli-2", "cli-3"):
            ledger.create_charge(
                charge_request(reference).model_copy(update={"metadata": {"order": reference}})
            )
            clock.advance(seconds=1)
        api.set_state(api.by_ref("cli-2")["id"], "paid")
        ledger.refresh("cli-2")
        ledger.refund("cli-2", Money(1_000, "KRW"), reference="cli-2-r1")
        ledger.cancel_charge("cli-3")
    return url


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_charges_list_json_pages(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = _json(capsys, "charges", "list", "--db", db, "--json", "--limit", "2")
    items = first["items"]
    assert isinstance(items, list)
    assert [i["reference"] for i in items] == ["cli-1", "cli-2"]
    assert items[0]["metadata"] == {"order": "cli-1"}
    assert items[0]["amount"] == {"amount": 10_000, "currency": "KRW"}
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)
    rest = _json(capsys, "charges", "list", "--db", db, "--json", "--cursor", cursor)
    assert [i["reference"] for i in rest["items"]] == ["cli-3"]  # type: ignore[union-attr]
    assert rest["next_cursor"] is None


def test_charges_list_filters(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    paid = _json(capsys, "charges", "list", "--db", db, "--json", "--status", "partially_refunded")
    assert [i["reference"] for i in paid["items"]] == ["cli-2"]  # type: ignore[union-attr]
    gone = _json(capsys, "charges", "list", "--db", db, "--json", "--abandoned")
    assert [i["reference"] for i in gone["items"]] == ["cli-3"]  # type: ignore[union-attr]
    window = _json(
        capsys,
        "charges",
        "list",
        "--db",
        db,
        "--json",
        "--since",
        "2026-01-05T09:00:01",
        "--until",
        "2026-01-05T18:00:01+09:00",
    )
    assert [i["reference"] for i in window["items"]] == ["cli-2"]  # type: ignore[union-attr]


def test_charges_list_table(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["charges", "list", "--db", db, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "cli-1" in out and "cli-2" not in out
    assert "--cursor" in out


def test_refunds_list(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _json(capsys, "refunds", "list", "cli-2", "--db", db, "--json")
    items = listed["items"]
    assert isinstance(items, list)
    assert [(i["reference"], i["amount"]) for i in items] == [
        ("cli-2-r1", {"amount": 1_000, "currency": "KRW"})
    ]
    assert _json(capsys, "refunds", "list", "cli-1", "--db", db, "--json")["items"] == []
    assert main(["refunds", "list", "--db", db]) == 0
    assert "cli-2-r1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["charges", "list", "--status", "paid"],
        ["charges", "list", "--since", "yesterday"],
        ["charges", "list", "--cursor", "nonsense"],
        ["charges", "list", "--limit", "0"],
        ["refunds", "list", "--status", "done"],
        ["refunds", "list", "not a reference"],
    ],
)
def test_bad_arguments_exit_1_naming_the_field(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main([*argv, "--db", db]) == 1
    err = capsys.readouterr().err
    assert err.startswith("paymux: ") and "Traceback" not in err


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    assert main(["charges", "list", "--db", f"sqlite:///{path}"]) == 4
    assert main(["refunds", "list", "--db", f"sqlite:///{path}"]) == 4
    assert not path.exists()


def test_help_names_the_list_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "charges" in out and "refunds" in out


def test_providers_table_shows_the_operations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "cancel_charge" in out and "list_refunds" in out


def test_ledger_show_says_abandoned_and_shows_metadata(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", "cli-3", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "abandoned" in out and "order=cli-3" in out
    assert main(["ledger", "show", "cli-1", "--db", db]) == 0
    assert "abandoned" not in capsys.readouterr().out
