"""The ``paymux`` command in cron and scripts: exit statuses, ``--json``, one-line errors.

Each exit status listed in docs/cli.md is produced here at least once.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from cli_process import run_cli
from ledgerpay import LedgerPayApi, gateway
from sqlalchemy import create_engine, inspect

from paymux import Ledger, __version__
from paymux.cli import main
from paymux.cli_support import (
    EXIT_FAILED,
    EXIT_NO_DATABASE,
    EXIT_OK,
    EXIT_PORT_BUSY,
    EXIT_USAGE,
)
from paymux_ecommpay import sign

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
ROUTE = ["route", "--method", "kakaopay", "--country", "SG", "--currency", "SGD"]


def _out(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def _one_line_error(err: str) -> str:
    assert err.startswith("paymux: "), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def empty_ledger(tmp_path: Path) -> str:
    """A ledger database with the schema and no charges."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with gateway(LedgerPayApi()) as gw, Ledger(gw, url=url) as ledger:
        ledger.store.ensure_schema()
    return url


@pytest.fixture
def one_charge(tmp_path: Path) -> str:
    from ledger_support import charge_request

    url = f"sqlite:///{tmp_path / 'one.db'}"
    with gateway(LedgerPayApi()) as gw, Ledger(gw, url=url) as ledger:
        ledger.create_charge(charge_request("json-1"))
    return url


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == EXIT_OK
    assert capsys.readouterr().out.strip() == f"paymux {__version__}"


def test_every_exit_status_is_documented() -> None:
    table = DOCS.read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert documented == {
        EXIT_OK,
        EXIT_FAILED,
        EXIT_USAGE,
        EXIT_PORT_BUSY,
        EXIT_NO_DATABASE,
        130,
    }


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reconcile", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 300)" in out
    assert "(default: sqlite:///paymux.db)" in out
    assert "(default: None)" not in out and "(default: False)" not in out
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    assert "(default: 8765)" in capsys.readouterr().out


def test_providers_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["settings"] == "sandbox"
    methods = {(c["provider"], c["method"]) for c in report["capabilities"]}
    assert ("omise", "kakaopay") in methods and ("ecommpay", "kakaopay") in methods


def test_route_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ROUTE, "--amount", "1500", "--json"]) == EXIT_OK
    decision = json.loads(capsys.readouterr().out)
    assert decision["provider"] == "omise"
    assert "ecommpay" in decision["rejected"]


def test_an_amount_in_major_units_points_to_major(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ROUTE, "--amount", "15.00"]) == EXIT_FAILED
    err = _one_line_error(capsys.readouterr().err)
    assert "--major" in err and "--amount" in err


def test_reconcile_refuses_a_database_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "paymx.db"
    assert main(["reconcile", "--sandbox", "--db", f"sqlite:///{typo}"]) == EXIT_NO_DATABASE
    assert "no ledger database" in _one_line_error(capsys.readouterr().err)
    assert not typo.exists(), "a typo must not create an empty ledger"


def test_reconcile_refuses_a_database_without_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    assert main(["reconcile", "--sandbox", "--db", f"sqlite:///{other}"]) == EXIT_NO_DATABASE
    assert "holds no paymux ledger" in _one_line_error(capsys.readouterr().err)
    assert inspect(create_engine(f"sqlite:///{other}")).get_table_names() == []


def test_reconcile_does_not_fall_back_to_the_sandbox(
    empty_ledger: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile", "--db", empty_ledger]) == EXIT_USAGE
    err = _one_line_error(capsys.readouterr().err)
    assert "--config" in err and "--sandbox" in err


def test_reconcile_json(empty_ledger: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--sandbox", "--db", empty_ledger, "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 0 and report["errors"] == {}
    assert report["database"].endswith("ledger.db")


def test_ledger_show_json(one_charge: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "show", "json-1", "--db", one_charge, "--json"]) == EXIT_OK
    entry = json.loads(capsys.readouterr().out)
    assert entry["reference"] == "json-1"
    assert entry["amount"]["amount"] > 0 and isinstance(entry["amount"]["currency"], str)
    assert isinstance(entry["created_at"], str)


def test_ledger_show_unknown_reference_exits_1(
    one_charge: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "show", "nope", "--db", one_charge]) == EXIT_FAILED
    assert "no charge 'nope'" in _one_line_error(capsys.readouterr().err)


def test_ledger_show_refuses_a_database_without_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    assert main(["ledger", "show", "x", "--db", f"sqlite:///{other}"]) == EXIT_NO_DATABASE
    _one_line_error(capsys.readouterr().err)
    assert inspect(create_engine(f"sqlite:///{other}")).get_table_names() == []


def test_ledger_show_writes_nothing_into_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    from postgres_db import fresh_database

    with fresh_database() as url:
        for argv in (["ledger", "show", "x"], ["reconcile", "--sandbox"]):
            assert main([*argv, "--db", url]) == EXIT_NO_DATABASE
            assert "holds no paymux ledger" in _one_line_error(capsys.readouterr().err)
        engine = create_engine(url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_a_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import paymux.cli

    def without_rich(_args: object) -> int:
        raise ModuleNotFoundError("No module named 'rich'", name="rich")

    monkeypatch.setattr(paymux.cli, "cmd_providers", without_rich)
    assert main(["providers"]) == EXIT_USAGE
    assert "pip install 'paymux[cli]'" in _one_line_error(capsys.readouterr().err)


def test_webhook_verify_without_settings_names_config_and_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "body.json"
    body.write_text("{}")
    assert main(["webhook", "verify", "omise", str(body)]) == EXIT_USAGE
    err = _one_line_error(capsys.readouterr().err)
    assert "--config" in err and "--set" in err


def test_a_digits_only_secret_stays_a_string(tmp_path: Path) -> None:
    """``--set secret_key=123456`` is the key 123456 as text, as the provider signed with it."""
    callback: dict[str, object] = {
        "project_id": 7,
        "payment": {"id": "order-1", "type": "purchase", "status": "success", "method": "card"},
        "operation": {
            "id": 1,
            "type": "sale",
            "status": "success",
            "code": "0",
            "message": "Success",
            "request_id": "r-1",
            "sum_initial": {"amount": 1000, "currency": "KRW"},
        },
    }
    callback["signature"] = sign(callback, "123456")
    body = tmp_path / "callback.json"
    body.write_text(json.dumps(callback))
    result = run_cli(
        "webhook",
        "verify",
        "ecommpay",
        str(body),
        "--set",
        "project_id=7",
        "--set",
        "secret_key=123456",
        "--set",
        "confirm_callbacks=false",
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["verified"] is True
