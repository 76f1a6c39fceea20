"""The ``paymux`` command: help, exit codes, and no tracebacks for user errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_process import cli_argv, run_cli

from paymux.cli import main
from paymux.sandbox.server import emulator_classes
from paymux_ecommpay import sign
from paymux_ecommpay.emulator import PROJECT_ID, SECRET_KEY


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "sandbox", "providers", "route", "webhook", "reconcile", "ledger"):
        assert command in result.stdout


def test_usage_errors_exit_2_without_traceback() -> None:
    result = run_cli("route", "--method", "kakaopay")
    assert result.returncode == 2
    assert "required" in result.stderr
    assert "Traceback" not in result.stderr


def test_providers_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "ecommpay" in out and "omise" in out
    assert "card-partner" in out
    # The sandbox's two Omise accounts, one country each, and their QR methods.
    rows = {tuple(cell.strip() for cell in line.split("│")[1:4]) for line in out.splitlines()}
    assert {
        ("omise", "kakaopay", "SG"),
        ("omise", "paynow", "SG"),
        ("omise_th", "kakaopay", "TH"),
        ("omise_th", "promptpay", "TH"),
    } <= rows


def test_route_explains_the_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "route",
                "--method",
                "kakaopay",
                "--country",
                "SG",
                "--currency",
                "SGD",
                "--amount",
                "15.00",
                "--major",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("chosen: omise")
    assert "rejected ecommpay: kakaopay is not offered in SG" in out


def test_route_with_no_provider_exits_1_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "route",
                "--method",
                "kakaopay",
                "--country",
                "KR",
                "--currency",
                "KRW",
                "--amount",
                "10.5",
                "--major",
            ]
        )
        == 1
    )
    assert "decimal place" in capsys.readouterr().err
    assert (
        main(
            [
                "route",
                "--method",
                "payco",
                "--country",
                "SG",
                "--currency",
                "SGD",
                "--amount",
                "100",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "no provider can take payco" in err
    assert "omise: does not offer method 'payco'" in err


def _callback() -> dict[str, object]:
    body: dict[str, object] = {
        "project_id": PROJECT_ID,
        "payment": {
            "id": "order-1",
            "type": "purchase",
            "status": "success",
            "method": "kakaopay",
            "sum": {"amount": 1000, "currency": "KRW"},
        },
        "operation": {
            "id": 77,
            "type": "sale",
            "status": "success",
            "code": "0",
            "message": "Success",
            "request_id": "r-1",
            "sum_initial": {"amount": 1000, "currency": "KRW"},
        },
    }
    body["signature"] = sign(body, SECRET_KEY)
    return body


def test_webhook_verify_accepts_a_signed_callback(tmp_path: Path) -> None:
    saved = tmp_path / "callback.json"
    saved.write_text(json.dumps(_callback()))
    result = run_cli(
        "webhook",
        "verify",
        "ecommpay",
        str(saved),
        "--set",
        f"project_id={PROJECT_ID}",
        "--set",
        f"secret_key={SECRET_KEY}",
        # A saved callback checked offline: no Gate to confirm it with.
        "--set",
        "confirm_callbacks=false",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["verified"] is True
    assert summary["charge"]["status"] == "succeeded"
    assert SECRET_KEY not in result.stdout + result.stderr


def test_webhook_verify_rejects_a_tampered_callback(tmp_path: Path) -> None:
    body = _callback()
    body["payment"]["sum"]["amount"] = 1  # type: ignore[index]
    saved = tmp_path / "callback.json"
    saved.write_text(json.dumps(body))
    result = run_cli(
        "webhook",
        "verify",
        "ecommpay",
        str(saved),
        "--set",
        f"project_id={PROJECT_ID}",
        "--set",
        f"secret_key={SECRET_KEY}",
    )
    assert result.returncode == 1
    assert "signature does not match" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(
        "webhook",
        "verify",
        "ecommpay",
        str(tmp_path / "nope.json"),
        "--set",
        "project_id=1",
        "--set",
        "secret_key=x",
    )
    assert result.returncode == 2
    assert "No such file" in result.stderr


def test_sandbox_command_serves_every_emulator_on_loopback() -> None:
    import time

    import httpx

    from paymux.sandbox.server import free_port

    port = free_port()
    server = subprocess.Popen(
        cli_argv("sandbox", "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/_sandbox", trust_env=False).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert status is not None, "the sandbox did not start"
        # The Thai Omise account is served next to the Singapore one.
        # Every installed emulator (a third plugin's too).
        served = set(status["emulators"])
        assert {"ecommpay", "omise", "omise_th"} | set(emulator_classes()) <= served
        bad = httpx.post(f"http://127.0.0.1:{port}/omise/charges", json={}, trust_env=False)
        assert bad.status_code == 401, "the emulator checks credentials"
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"paymux sandbox on http://127.0.0.1:{port}" in out
    assert "secret" not in out.lower()


def test_sandbox_refuses_to_listen_beyond_loopback() -> None:
    result = run_cli("sandbox", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1
    assert "loopback only" in result.stderr
