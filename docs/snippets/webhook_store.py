"""Dedupe and apply verified webhook events: a stand-in for your own payments table.

One SQLite file with two tables. Both steps run in one transaction, so a crash between them can
never mark an event as handled without applying it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from paymux import Charge, ChargeStatus, WebhookEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE TABLE IF NOT EXISTS payments (
    provider  TEXT NOT NULL,
    charge_id TEXT NOT NULL,
    reference TEXT,
    status    TEXT NOT NULL,
    refunded  INTEGER NOT NULL,  -- minor units
    PRIMARY KEY (provider, charge_id)
);
"""


class PaymentStore:
    def __init__(self, path: str) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as db:
            db.executescript(SCHEMA)

    def apply(self, event: WebhookEvent) -> bool:
        """Apply ``event`` once. False when it was handled before (a redelivery)."""
        with closing(sqlite3.connect(self.path)) as db, db:  # one transaction
            inserted = db.execute(
                "INSERT INTO webhook_events VALUES (?, ?) ON CONFLICT DO NOTHING",
                (event.provider, event.id),
            ).rowcount
            if not inserted:
                return False
            if event.charge is not None:
                self._apply_charge(db, event.charge)
        return True

    def _apply_charge(self, db: sqlite3.Connection, charge: Charge) -> None:
        refunded = charge.refunded_amount.amount if charge.refunded_amount else 0
        row = db.execute(
            "SELECT status, refunded FROM payments WHERE provider = ? AND charge_id = ?",
            (charge.provider, charge.id),
        ).fetchone()
        if row is not None:
            # Deliveries can arrive out of order: an older event must not undo a newer one.
            if ChargeStatus(row[0]).is_final and not charge.status.is_final:
                return
            if refunded < row[1]:
                return
        db.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, charge_id)"
            " DO UPDATE SET status = excluded.status, refunded = excluded.refunded",
            (charge.provider, charge.id, charge.reference, charge.status.value, refunded),
        )

    def status(self, provider: str, charge_id: str) -> ChargeStatus | None:
        with closing(sqlite3.connect(self.path)) as db:
            row = db.execute(
                "SELECT status FROM payments WHERE provider = ? AND charge_id = ?",
                (provider, charge_id),
            ).fetchone()
        return None if row is None else ChargeStatus(row[0])
