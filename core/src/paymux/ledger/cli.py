"""``paymux reconcile`` and ``paymux ledger show``; the dispatcher in ``paymux.cli`` calls these.

Both take an argparse namespace with ``db`` (ledger URL) and ``json``; reconcile also takes
``config`` (paymux.toml) or ``sandbox``, and ``older_than`` (seconds); show takes ``reference``.
Neither creates a database or a schema (see ``cli_db``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from ..cli_gateway import gateway_from_args
from ..cli_support import UsageError
from ..errors import ConfigurationError, PaymuxError
from .cli_db import existing_store
from .records import Entry, ReconcileReport

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_DB = "sqlite:///paymux.db"


def _gateway(args: argparse.Namespace) -> Any:
    if getattr(args, "config", None):
        from ..gateway import Gateway

        return Gateway.from_config(args.config)
    if getattr(args, "sandbox", False):
        return gateway_from_args(args)
    # Polling real charges with the sandbox's test keys would mark them all as errors.
    raise UsageError(
        "reconcile needs the providers' keys: pass --config paymux.toml"
        " (or --sandbox for the embedded sandbox's test settings)"
    )


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def reconcile_command(args: argparse.Namespace) -> int:
    """Poll the provider for stale open charges; progress bar, then a summary. Exit 1 on errors."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .ledger import Ledger

    seconds = getattr(args, "older_than", 300)
    if seconds is None or seconds < 0:
        raise ConfigurationError("--older-than must be a number of seconds >= 0")
    url = getattr(args, "db", None) or DEFAULT_DB
    # A broken --config is reported before the database, a missing database before a missing
    # --config (the operator fixes the first thing named).
    gateway = _gateway(args) if getattr(args, "config", None) else None
    existing_store(url).dispose()
    gateway = gateway or _gateway(args)
    if getattr(args, "json", False):
        with Ledger(gateway, url=url) as ledger:
            report = ledger.reconcile(older_than=timedelta(seconds=seconds))
        print(json.dumps(report_json(report, ledger.store.describe()), indent=2))
        return EXIT_FAILED if report.errors else EXIT_OK
    console = _console()
    with Ledger(gateway, url=url) as ledger:
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("reconciling", total=None)

            def progress(done: int, total: int, reference: str) -> None:
                bar.update(
                    task, completed=done, total=total, description=f"reconciling {reference}"
                )

            report = ledger.reconcile(older_than=timedelta(seconds=seconds), progress=progress)
            bar.update(
                task,
                description="reconciled",
                total=max(report.checked + report.skipped, 1),
                completed=max(report.checked + report.skipped, 1),
            )

    summary = Table(title=f"Reconcile ({ledger.store.describe()})", show_header=False)
    for label, value in (
        ("checked", report.checked),
        ("changed", report.changed),
        ("unchanged", report.unchanged),
        ("not due yet", report.skipped),
        ("flagged", report.flagged),
        ("errors", len(report.errors)),
    ):
        summary.add_row(label, str(value))
    console.print(summary)
    for reference, before, after in report.transitions:
        console.print(f"  {reference}: {before} -> {after}")
    for reference, error in report.errors.items():
        console.print(f"  [red]{reference}: {error}[/red]")
    return EXIT_FAILED if report.errors else EXIT_OK


def report_json(report: ReconcileReport, database: str) -> dict[str, Any]:
    return {
        "database": database,
        "checked": report.checked,
        "changed": report.changed,
        "unchanged": report.unchanged,
        "not_due_yet": report.skipped,
        "flagged": report.flagged,
        "errors": dict(report.errors),
        "transitions": [
            {"reference": reference, "before": before, "after": after}
            for reference, before, after in report.transitions
        ],
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    def money(value: Any) -> dict[str, Any]:
        return {"amount": value.amount, "currency": value.currency}

    data = asdict(entry)
    data["charge"] = entry.charge.model_dump(mode="json", exclude={"raw"}) if entry.charge else None
    data["amount"], data["refunded"] = money(entry.amount), money(entry.refunded)
    for record, raw in zip(data["refunds"], entry.refunds, strict=True):
        record["amount"] = money(raw.amount)
    decoded: dict[str, Any] = json.loads(json.dumps(data, default=lambda value: value.isoformat()))
    return decoded


def show_command(args: argparse.Namespace) -> int:
    """Print one charge: state, refunds, events, flags. Needs no provider settings."""
    from . import arguments
    from .rows import entry_of

    reference = arguments.reference(args.reference)
    store = existing_store(getattr(args, "db", None) or DEFAULT_DB)
    try:
        # An existing ledger of an older schema is upgraded as the application would; nothing
        # is created (existing_store refused a database without one).
        store.ensure_schema()
        entry = store.read(lambda conn: entry_of(conn, reference))
    finally:
        store.dispose()
    if entry is None:
        raise PaymuxError(
            f"no charge {reference!r} in {store.describe()}: check the reference and --db"
        )
    if getattr(args, "json", False):
        print(json.dumps(entry_json(entry), indent=2))
        return EXIT_OK
    render_entry(_console(), entry)
    return EXIT_OK


def render_entry(console: Any, entry: Entry) -> None:
    from rich.table import Table

    head = Table(title=f"Charge {entry.reference}", show_header=False)
    rows: list[tuple[str, str]] = [
        ("provider", entry.provider),
        ("provider id", entry.provider_id or "-"),
        ("status", entry.status),
        ("amount", f"{entry.amount}  ({entry.amount.amount} minor units)"),
        ("refunded", f"{entry.refunded}"),
        (
            "creation",
            entry.create_state + (f" ({entry.create_error})" if entry.create_error else ""),
        ),
        ("version", str(entry.version)),
        ("created", entry.created_at.isoformat()),
        ("updated", entry.updated_at.isoformat()),
        ("last polled", entry.checked_at.isoformat() if entry.checked_at else "-"),
    ]
    if entry.abandoned_at is not None:
        rows.append(("abandoned", f"{entry.abandoned_at.isoformat()} (still reconciled)"))
    charge = entry.charge
    if charge is not None:
        if charge.next_action is not None:
            rows.append(("next action", charge.next_action.type))
        if charge.failure is not None:
            rows.append(("failure", f"{charge.failure.reason} ({charge.failure.code or '-'})"))
        if charge.provider_status:
            rows.append(("provider status", charge.provider_status))
        if charge.metadata:
            rows.append(("metadata", ", ".join(f"{k}={v}" for k, v in charge.metadata.items())))
    for label, value in rows:
        head.add_row(label, value)
    console.print(head)
    if entry.refunds:
        refunds = Table(title="Refunds")
        for column in ("reference", "provider id", "amount", "status", "created"):
            refunds.add_column(column)
        for r in entry.refunds:
            refunds.add_row(
                r.reference or "-",
                r.provider_id or "-",
                str(r.amount),
                r.status,
                r.created_at.isoformat(),
            )
        console.print(refunds)
    if entry.events:
        events = Table(title="Events")
        for column in ("received", "source", "event id", "type", "outcome", "status after"):
            events.add_column(column)
        for e in entry.events:
            events.add_row(
                e.received_at.isoformat(),
                e.source,
                e.event_id,
                e.type,
                e.outcome,
                e.status_after or "-",
            )
        console.print(events)
    if entry.flags:
        console.print("[bold red]Flags (not applied; needs a look):[/bold red]")
        for f in entry.flags:
            console.print(f"  [red]{f.kind}[/red] {f.detail} (event {f.event_id or '-'})")
