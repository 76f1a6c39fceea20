"""The ``paymux`` command: demo, sandbox, providers, route, webhook verify, reconcile, ledger."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .cli_gateway import gateway_from_args
from .cli_support import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_DATABASE,
    EXIT_OK,
    EXIT_USAGE,
    NoDatabase,
    Parser,
    UsageError,
    missing_extra,
    one_line,
)
from .errors import PaymuxError


def _console() -> Any:
    from rich.console import Console

    # Tables stay readable when the output goes to a file or a CI log (80 columns by default).
    return Console(highlight=False, width=max(110, Console().width))


def cmd_providers(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .plugins import discover

    report = discover()
    if args.json:
        gw = gateway_from_args(args) if report.loaded else None
        print(
            json.dumps(
                {
                    "settings": "config" if args.config else "sandbox",
                    "failed": dict(report.failed),
                    "capabilities": [
                        cap.model_dump(mode="json") for cap in (gw.capabilities() if gw else [])
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    console = _console()
    for name, why in report.failed.items():
        console.print(f"[red]plugin {name!r} is installed but cannot be used:[/red] {why}")
    if not report.loaded:
        console.print("No provider plugins installed (pip install paymux-ecommpay paymux-omise).")
        return EXIT_OK
    gw = gateway_from_args(args)
    table = Table(
        title="Providers and capabilities" + ("" if args.config else " (sandbox settings)")
    )
    for column in (
        "provider",
        "method",
        "countries",
        "amounts (minor units)",
        "refunds",
        "next actions",
        "after the charge",
    ):
        table.add_column(column)
    for cap in gw.capabilities():
        table.add_row(
            cap.provider,
            cap.method
            + (
                f" ({cap.provider_method})" if cap.provider_method not in (None, cap.method) else ""
            ),
            ", ".join(cap.countries) if cap.countries else "any",
            "\n".join(
                f"{r.currency} {r.minimum:,}..{r.maximum:,}"
                if r.maximum is not None
                else f"{r.currency} >= {r.minimum:,}"
                for r in cap.amounts
            ),
            cap.refunds.value,
            ", ".join(cap.next_actions),
            "\n".join(cap.operations) or "-",
        )
    console.print(table)
    return _check_accounts(gw, console) if args.check else EXIT_OK


def _check_accounts(gw: Any, console: Any) -> int:
    """``providers --check``: each provider's account against its settings (a read per provider)."""
    from .errors import OperationNotSupported

    failed = False
    for name in gw.providers:
        try:
            checked = gw.check_account(name)
        except OperationNotSupported:
            console.print(f"{name}: no account check")
        except PaymuxError as error:
            failed = True
            text = str(error)
            text = text if text.startswith(f"{name}:") else f"{name}: {text}"
            console.print(text, style="red", markup=False, soft_wrap=True)
        else:
            found = ", ".join(f"{key} {value}" for key, value in checked.items())
            console.print(
                f"{name}: the account matches the settings ({found})", markup=False, soft_wrap=True
            )
    return EXIT_FAILED if failed else EXIT_OK


def cmd_route(args: argparse.Namespace) -> int:
    from .errors import InvalidRequest
    from .models import ChargeRequest, Customer, ReturnUrls
    from .money import Money

    gw = gateway_from_args(args)
    if args.major:
        amount = Money.of(args.amount, args.currency)
    elif args.amount.isascii() and args.amount.isdigit() and len(args.amount) <= 16:
        amount = Money(int(args.amount), args.currency)
    else:
        # int() would also read fullwidth digits or "1_000"; minor units are plain ASCII digits.
        raise InvalidRequest(
            f"{args.amount!r:.24} is not whole minor units in ASCII digits (e.g. 1500);"
            " for an amount in major units such as 15.00 add --major",
            field="--amount",
        )
    # Routing is about method, market and money: the customer details and return pages a
    # provider may require are filled in, so they never decide this answer.
    request = ChargeRequest(
        reference="route-check",
        amount=amount,
        method=args.method,
        country=args.country,
        customer=Customer(
            id="route-check",
            ip_address="192.0.2.1",
            email="route-check@example.com",
            phone="+10000000000",
            first_name="Route",
            last_name="Check",
        ),
        return_urls=ReturnUrls(
            success="https://shop.example/paid",
            decline="https://shop.example/declined",
            back="https://shop.example/cart",
        ),
    )
    decision = gw.route(request)
    if args.json:
        print(json.dumps(decision.model_dump(mode="json"), indent=2))
    else:
        print(decision.explain())
    return EXIT_OK


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        name, sep, value = pair.partition(":")
        if not sep:
            raise PaymuxError(f"--header {pair!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def cmd_webhook_verify(args: argparse.Namespace) -> int:
    from .gateway import Gateway

    body = Path(args.file).read_bytes() if args.file != "-" else sys.stdin.buffer.read()
    if not args.config and not args.set:
        raise UsageError(
            f"webhook verify needs {args.provider}'s keys: --config paymux.toml, or"
            " --set key=value for each setting (e.g. --set secret_key=...)"
        )
    if args.config:
        gw = Gateway.from_config(args.config)
    else:
        settings: dict[str, Any] = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--set {item!r:.40}: expected key=value")
            # Values stay text (a secret of digits is still a secret); the provider's settings
            # read numbers where they expect them.
            settings[key] = value
        try:
            gw = Gateway(providers={args.provider: settings})
        except PaymuxError as error:
            raise UsageError(
                f"{one_line(str(error))} (fix the --set values, or pass --config paymux.toml)"
            ) from None
    event = gw.parse_webhook(args.provider, body, _headers(args.header))
    summary: dict[str, Any] = {
        "verified": True,
        "by": event.verified_by,
        "event_id": event.id,
        "type": event.type,
    }
    if event.charge:
        summary["charge"] = {
            "id": event.charge.id,
            "status": event.charge.status.value,
            "amount": str(event.charge.amount),
        }
    if event.refund:
        summary["refund"] = {
            "id": event.refund.id,
            "status": event.refund.status.value,
            "amount": str(event.refund.amount),
        }
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .ledger.cli import reconcile_command

    return int(reconcile_command(args))


def cmd_ledger_show(args: argparse.Namespace) -> int:
    from .ledger.cli import show_command

    return int(show_command(args))


def cmd_charges_list(args: argparse.Namespace) -> int:
    from .ledger.cli_lists import charges_list_command

    return int(charges_list_command(args))


def cmd_refunds_list(args: argparse.Namespace) -> int:
    from .ledger.cli_lists import refunds_list_command

    return int(refunds_list_command(args))


def _add_list_parsers(sub: Any) -> None:
    """``charges list`` and ``refunds list`` (read the ledger database only)."""
    charges = sub.add_parser("charges", help="list the ledger's charges")
    charges_sub = charges.add_subparsers(dest="charges_command", required=True, metavar="COMMAND")
    listing = charges_sub.add_parser("list", help="a page of charges, oldest first")
    listing.add_argument("--db", default="sqlite:///paymux.db", help="ledger database URL")
    listing.add_argument(
        "--status", action="append", default=[], help="e.g. succeeded (repeatable)"
    )
    listing.add_argument("--provider")
    listing.add_argument("--since", help="ISO 8601 time (UTC unless a zone is given)")
    listing.add_argument("--until", help="ISO 8601 time (UTC unless a zone is given)")
    listing.add_argument("--prefix", help="references starting with this")
    listing.add_argument("--abandoned", action="store_true", help="only charges given up locally")
    listing.add_argument("--limit", type=int, default=None, help="page size (default 50)")
    listing.add_argument("--cursor", help="the cursor a previous page printed")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(func=cmd_charges_list)

    refunds = sub.add_parser("refunds", help="list the ledger's refunds")
    refunds_sub = refunds.add_subparsers(dest="refunds_command", required=True, metavar="COMMAND")
    listing = refunds_sub.add_parser("list", help="a page of refunds, in the order recorded")
    listing.add_argument("reference", nargs="?", help="only this charge's refunds")
    listing.add_argument("--db", default="sqlite:///paymux.db", help="ledger database URL")
    listing.add_argument(
        "--status", action="append", default=[], help="e.g. succeeded (repeatable)"
    )
    listing.add_argument("--provider")
    listing.add_argument("--limit", type=int, default=None, help="page size (default 50)")
    listing.add_argument("--cursor", help="the cursor a previous page printed")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(func=cmd_refunds_list)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="paymux",
        description="Take payments through several providers with one API. "
        "Without --config, providers and route use the embedded sandbox's settings.",
        epilog="Exit status: 0 done, 1 refused or failed, 2 bad usage, 3 sandbox port busy,"
        " 4 no ledger database, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"paymux {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from .cli_sandbox import add_parsers as add_sandbox_parsers

    add_sandbox_parsers(sub)

    providers = sub.add_parser("providers", help="list installed providers and their capabilities")
    providers.add_argument("--config", help="paymux.toml to read provider settings from")
    providers.add_argument("--json", action="store_true", help="JSON instead of a table")
    providers.add_argument(
        "--check",
        action="store_true",
        help="also ask each provider whether its account matches the settings (country,"
        " currencies); reads the provider's API",
    )
    providers.set_defaults(func=cmd_providers)

    route = sub.add_parser("route", help="explain which provider would take a payment, and why")
    route.add_argument("--method", required=True, help="kakaopay, payco, card, ...")
    route.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. KR")
    route.add_argument("--currency", required=True, help="ISO 4217, e.g. KRW")
    route.add_argument("--amount", required=True, help="minor units (e.g. 1500 = 15.00 SGD)")
    route.add_argument(
        "--major", action="store_true", help="read --amount in major units ('15.00')"
    )
    route.add_argument("--config", help="paymux.toml (routes and providers)")
    route.add_argument("--json", action="store_true", help="the decision as JSON")
    route.set_defaults(func=cmd_route)

    webhook = sub.add_parser("webhook", help="webhook tools")
    webhook_sub = webhook.add_subparsers(dest="webhook_command", required=True, metavar="COMMAND")
    verify = webhook_sub.add_parser("verify", help="verify and parse a saved callback body")
    verify.add_argument("provider", help="provider name, e.g. ecommpay")
    verify.add_argument("file", help="file with the raw body ('-' for stdin)")
    verify.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    verify.add_argument("--config", help="paymux.toml holding the provider's keys")
    verify.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="provider setting instead of --config, e.g. secret_key=... (repeatable)",
    )
    verify.set_defaults(func=cmd_webhook_verify)

    reconcile = sub.add_parser("reconcile", help="poll the provider for stale non-final charges")
    reconcile.add_argument("--db", default="sqlite:///paymux.db", help="ledger database URL")
    reconcile.add_argument("--config", help="paymux.toml with the providers' keys")
    reconcile.add_argument(
        "--sandbox",
        action="store_true",
        help="use the embedded sandbox's test settings instead of --config",
    )
    reconcile.add_argument(
        "--older-than",
        type=int,
        default=300,
        metavar="SECONDS",
        help="poll charges still open after this long",
    )
    reconcile.add_argument("--json", action="store_true", help="the report as JSON")
    reconcile.set_defaults(func=cmd_reconcile)

    ledger = sub.add_parser("ledger", help="inspect the ledger")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    show = ledger_sub.add_parser("show", help="show a charge, its refunds and events")
    show.add_argument("reference", help="the charge's reference")
    show.add_argument("--db", default="sqlite:///paymux.db", help="ledger database URL")
    show.add_argument("--json", action="store_true", help="JSON instead of tables")
    show.set_defaults(func=cmd_ledger_show)
    _add_list_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except NoDatabase as error:
        print(f"paymux: {one_line(str(error))}", file=sys.stderr)
        return EXIT_NO_DATABASE
    except UsageError as error:
        print(f"paymux: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as error:
        print(f"paymux: {missing_extra(error)}", file=sys.stderr)
        return EXIT_USAGE
    except PaymuxError as error:
        print(f"paymux: {one_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as error:
        print(f"paymux: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:  # an operator's tool prints one line, not a traceback
        if os.environ.get("PAYMUX_TRACEBACK"):
            raise
        print(
            f"paymux: unexpected {type(error).__name__}: {one_line(str(error))}"
            " (set PAYMUX_TRACEBACK=1 to see where; please report it)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
