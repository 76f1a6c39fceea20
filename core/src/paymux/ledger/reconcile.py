"""``Ledger.reconcile``: ask the provider about charges with no news and apply the answers.

A charge the provider once answered for is retrieved by id; a create that never got an answer is
looked up by reference (``create.reconcile_lookup``), and adopted only when the provider has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from ..errors import NotFound, PaymuxError
from . import arguments, create, steps
from .polls import Candidate, apply_poll, candidates, mark_checked
from .records import ReconcileReport
from .steps import Op

log = logging.getLogger("paymux.ledger")

Progress = Callable[[int, int, str], None]
"""``progress(done, total, reference)``, called after each charge ``reconcile`` looked at."""


def reconcile_op(
    host: create.Host,
    older_than: timedelta,
    limit: int | None,
    progress: Progress | None,
    clock: Callable[[], datetime],
) -> Op[ReconcileReport]:
    arguments.older_than(older_than)
    arguments.limit(limit)
    arguments.callback(progress, "progress")
    report = ReconcileReport()
    found = yield from host._write(lambda c, x: candidates(c, x, older_than, limit))
    total = len(found)
    for done, candidate in enumerate(found, 1):
        yield from _reconcile_one(host, candidate, report, clock)
        if progress is not None:
            progress(done, total, candidate.reference)
    return report


def _reconcile_one(
    host: create.Host,
    candidate: Candidate,
    report: ReconcileReport,
    clock: Callable[[], datetime],
) -> Op[None]:
    reference = candidate.reference
    try:
        provider = host.gateway.provider(candidate.provider)
        if candidate.charge is not None:
            due = candidate.created_at + provider.reconcile_after(candidate.charge)
            if due > clock():
                report.skipped += 1
                return
            fetched = yield from steps.retrieve_charge(candidate.charge)
        else:
            # A create with no answer yet: adopt the charge if the provider has it. A miss
            # changes nothing unless it is certain (and nobody is sending it right now).
            found = yield from create.reconcile_lookup(
                host, reference, candidate.provider, candidate.lease_until, clock()
            )
            if found is None:
                report.checked += 1
                report.unchanged += 1
                return
            fetched = found
    except NotFound as missing:
        if candidate.charge is not None:
            # The provider does not know a charge it once answered for: a human must look.
            report.checked += 1
            report.errors[reference] = str(missing)
            return
        # By reference, the provider cannot say yet (its search lags): look again later.
        log.info("ledger: %s is not visible at %s yet: %s", reference, candidate.provider, missing)
        yield host._write(lambda c, x: mark_checked(c, x, reference))
        report.checked += 1
        report.unchanged += 1
        return
    except PaymuxError as error:
        report.checked += 1
        report.errors[reference] = str(error)
        return
    report.checked += 1
    before = candidate.charge.status.value if candidate.charge else "pending"
    applied = yield from host._write(lambda c, x: apply_poll(c, x, reference, fetched))
    if applied.flags:
        report.flagged += 1
    if applied.changed and applied.charge is not None:
        report.changed += 1
        report.transitions.append((reference, before, applied.charge.status.value))
    else:
        report.unchanged += 1
