"""Ledger event application rate: ``Ledger.apply_event`` on SQLite and PostgreSQL (1 and 4 processes).

What is timed is the ledger: events are verified and parsed (``Gateway.parse_webhook``) before the
clock starts, so the figure is dedupe + lock + state machine + rows written + commit per event, not
the provider's HMAC and JSON (bench_webhooks.py measures those). The events are real signed
callbacks from the in-memory provider the ledger's tests use (tests/support/ledgerpay.py): each
charge is created through ``Ledger.create_charge`` (untimed), then at the provider it is paid and
partly refunded, which emits four callbacks: ``charge.updated`` (requires action, already known:
unchanged), ``charge.updated`` (paid), ``refund.updated``, ``charge.updated`` (partly refunded).

Every timed batch runs in worker processes (the 1-process figure too), each with its own gateway
and ``Ledger``, the way separate checkout instances would; a charge's events go to one worker, in
order. Rate = events / the sum, over a round's slices (``SLICES``), of (last worker's end - first
worker's start). Each round uses new charges in the same database. PostgreSQL: the server in
``PAYMUX_BENCH_POSTGRES_URL`` or ``PAYMUX_TEST_POSTGRES_URL`` (a database of its own is created and
dropped), else a throwaway cluster from ``.ci/postgres.sh`` (fsync off, as in CI); if none can be
had, "not measured".

On PostgreSQL the ledger is shown as a ratio to a floor measured in the same run, on the same
server, the same tables and the same events, with the same number of worker processes: per event,
psycopg 3 directly runs what any event needs and nothing else (a dedupe insert of the event row,
``SELECT ... FOR UPDATE`` of the charge row, an update of it, a commit). The floor and the ledger
take turns, slice by slice, on the same charges (the floor's event ids are prefixed, so the
ledger never sees them as duplicates); the ratio is per round, then the median.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import HERE, ROOT, Result, emit, rounds

sys.path.insert(0, str(ROOT / "tests" / "support"))

from ledger_support import charge_request
from ledgerpay import SECRET, LedgerPay, LedgerPayApi, gateway

from paymux import Gateway, Ledger, WebhookEvent

CHARGES = 150 if os.environ.get("PAYMUX_BENCH_QUICK") == "1" else 300
"""Charges per round; four events each."""
PROCESSES = 4
PG_ONLY = "--postgres-only"
LEDGER, FLOOR = "ledger", "floor"
SLICES = 12
"""A round's charges are applied in this many slices, ledger and floor taking turns on each, so
a change in the machine's load (two cores, shared) hits both sides alike. (Six slices of about a
second each left single rounds at 0.34-0.71 of the floor in one run.)"""
PG_ROUNDS = 7
"""PostgreSQL rounds in a full run: the ratio's spread comes from the machine, not the code."""

Delivery = tuple[bytes, dict[str, str]]


# -- worker processes -------------------------------------------------------------------------


FLOOR_EVENT = (
    "INSERT INTO paymux_events (provider, event_id, charge_id, type, source, outcome, received_at)"
    " VALUES (%s, %s, %s, %s, 'floor', 'applied', now() AT TIME ZONE 'UTC')"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
FLOOR_LOCK = "SELECT * FROM paymux_charges WHERE provider = %s AND provider_id = %s FOR UPDATE"
FLOOR_UPDATE = (
    "UPDATE paymux_charges SET version = version + 1, updated_at = now() AT TIME ZONE 'UTC'"
    " WHERE reference = %s"
)


def _floor(conn: Any, events: list[WebhookEvent]) -> int:
    """What an event needs of the database, with psycopg directly: one transaction each."""
    done = 0
    with conn.cursor() as cur:
        for event in events:
            charge_id = event.charge.id if event.charge else event.refund.charge_id  # type: ignore[union-attr]
            cur.execute(FLOOR_EVENT, (event.provider, f"floor:{event.id}", charge_id, event.type))
            if cur.fetchone() is not None:
                cur.execute(FLOOR_LOCK, (event.provider, charge_id))
                row = cur.fetchone()
                cur.execute(FLOOR_UPDATE, (row[0],))
                done += 1
            conn.commit()
    return done


def _psycopg_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _worker(url: str, jobs: Any, go: Any, done: Any) -> None:
    """One checkout instance: parses its share (untimed), waits for the start, applies it."""
    provider = LedgerPay.configure({"secret": SECRET}, name="ledgerpay")
    floor_conn: Any = None
    if url.startswith("postgresql"):
        import psycopg

        floor_conn = psycopg.connect(_psycopg_conninfo(url))
    with Gateway(providers={"ledgerpay": provider}) as gw, Ledger(gw, url=url) as ledger:
        ledger.entry("warm-up")  # engine, connection pool and schema check, outside the clock
        while True:
            job: tuple[str, list[Delivery]] | None = jobs.get()
            if job is None:
                if floor_conn is not None:
                    floor_conn.close()
                return
            mode, deliveries = job
            events = [gw.parse_webhook("ledgerpay", body, headers) for body, headers in deliveries]
            done.put(("ready", 0.0, 0.0, 0))
            go.get()
            started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
            changed = 0
            if mode == FLOOR:
                changed = _floor(floor_conn, events)
            else:
                for event in events:
                    changed += ledger.apply_event(event).changed
            done.put(("done", started, time.perf_counter(), changed))


class Pool:
    """``n`` persistent workers, started once (spawning costs seconds on two cores)."""

    def __init__(self, url: str, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.done: Any = ctx.Queue()
        self.jobs = [ctx.Queue() for _ in range(n)]
        self.go = [ctx.Queue() for _ in range(n)]
        self.procs = [
            ctx.Process(target=_worker, args=(url, self.jobs[i], self.go[i], self.done))
            for i in range(n)
        ]
        for proc in self.procs:
            proc.start()

    def run(self, hands: list[list[Delivery]], mode: str = LEDGER) -> tuple[float, int]:
        """Apply each hand in its own worker at once; (wall seconds, events changed)."""
        for i, hand in enumerate(hands):
            self.jobs[i].put((mode, hand))
        for _ in hands:
            assert self.done.get(timeout=300)[0] == "ready"
        for i in range(len(hands)):
            self.go[i].put(True)
        finished = [self.done.get(timeout=600) for _ in hands]
        wall = max(f[2] for f in finished) - min(f[1] for f in finished)
        return wall, sum(f[3] for f in finished)

    def close(self) -> None:
        for queue in self.jobs:
            queue.put(None)
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()


# -- the workload -----------------------------------------------------------------------------


Hand = list[list[Delivery]]
"""One worker's share of a round: the callbacks of each of its charges, in order."""


def make_round(api: LedgerPayApi, url: str, tag: str, charges: int, parts: int) -> list[Hand]:
    """Create ``charges`` charges through a ledger on ``url``; pay and partly refund each at the
    provider. Returns their callbacks dealt into ``parts`` hands, whole charges per hand."""
    seen = len(api.outbox)
    known = set(api.charges)
    with gateway(api) as gw, Ledger(gw, url=url) as ledger:
        for n in range(charges):
            ledger.create_charge(charge_request(reference=f"{tag}-{n:05d}", amount=10_000 + n))
    for charge_id in [c for c in api.charges if c not in known]:
        api.set_state(charge_id, "paid")
        api.refund(charge_id, 1_000)
    by_charge: dict[str, list[Delivery]] = {}
    for callback in api.outbox[seen:]:
        data = json.loads(callback.body)["data"]
        charge_id = data.get("charge", data["id"])
        by_charge.setdefault(charge_id, []).append((callback.body, callback.headers))
    hands: list[Hand] = [[] for _ in range(parts)]
    for i, deliveries in enumerate(by_charge.values()):
        hands[i % parts].append(deliveries)
    return hands


def slices(hands: list[Hand], count: int) -> list[list[list[Delivery]]]:
    """``count`` successive parts of every hand (whole charges), each part as flat hands."""
    parts = []
    for s in range(count):
        part = []
        for hand in hands:
            charges = hand[s * len(hand) // count : (s + 1) * len(hand) // count]
            part.append([delivery for charge in charges for delivery in charge])
        parts.append(part)
    return parts


def measure(
    url: str, layouts: list[int], n_rounds: int, *, floor: bool = False
) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Events/s per round for each process count, rounds interleaved (one pool per count): the
    ledger's and, with ``floor``, the floor's on the same charges, in alternating order."""
    api = LedgerPayApi()  # one provider for the whole run: charge ids never repeat
    pools = {n: Pool(url, n) for n in layouts}
    rates: dict[int, list[float]] = {n: [] for n in layouts}
    floors: dict[int, list[float]] = {n: [] for n in layouts}
    try:
        for r in range(-1, n_rounds):  # round -1: warm-up, not counted
            order = layouts if r % 2 == 0 else list(reversed(layouts))
            for n in order:
                tag = f"r{r + 1}-p{n}-{uuid.uuid4().hex[:6]}"
                hands = make_round(api, url, tag, CHARGES if r >= 0 else 20, n)
                events = sum(len(charge) for hand in hands for charge in hand)
                modes = [LEDGER, FLOOR] if floor else [LEDGER]
                walls = dict.fromkeys(modes, 0.0)
                changed = dict.fromkeys(modes, 0)
                for i, part in enumerate(slices(hands, SLICES)):
                    for mode in modes if (r + i) % 2 == 0 else reversed(modes):
                        wall, done = pools[n].run(part, mode)
                        walls[mode] += wall
                        changed[mode] += done
                if r < 0:
                    continue
                rates[n].append(events / walls[LEDGER])
                assert changed[LEDGER] >= 2 * CHARGES, (changed, CHARGES)
                if floor:
                    floors[n].append(events / walls[FLOOR])
                    assert changed[FLOOR] == events, (changed, events)
    finally:
        for pool in pools.values():
            pool.close()
    return rates, floors


def rate_result(name: str, rates: list[float], extra: str = "") -> Result:
    rate = statistics.median(rates)
    return Result(
        name=name,
        figure=f"{rate:,.0f} events/s",
        value=rate,
        target="(rate)",
        met=None,
        notes=(
            f"median of {len(rates)} rounds of {4 * CHARGES} events"
            f" ({min(rates):,.0f}-{max(rates):,.0f}); apply_event, pre-verified events{extra}"
        ),
    )


# -- backends ---------------------------------------------------------------------------------


def sqlite_results() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        rates, _ = measure(url, [1], rounds(5, 2))
    return [rate_result("Ledger event application rate, SQLite", rates[1], "; file in a temp dir")]


def postgres_results(base: str) -> list[Result]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin_url = make_url(base)
    name = f"paymux_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        rates, floors = measure(url, [1, PROCESSES], rounds(PG_ROUNDS, 2), floor=True)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    where = f"PostgreSQL {version}"
    results = [floor_result(n, rates[n], floors[n], where) for n in (1, PROCESSES)]
    # Scaling per round: the 1- and 4-process batches of one round ran back to back.
    scaling = [four / one for one, four in zip(rates[1], rates[PROCESSES], strict=True)]
    ratio = statistics.median(scaling)
    return [
        *results,
        Result(
            name=f"Ledger on PostgreSQL, {PROCESSES} processes vs 1",
            figure=f"{ratio:.2f}x",
            value=ratio,
            target="(scaling)",
            met=None,
            notes=(
                f"median of per-round ratios ({min(scaling):.2f}-{max(scaling):.2f});"
                f" {os.cpu_count()} cores shared by the workers and the server"
            ),
        ),
    ]


FLOOR_TARGET = 0.6


def floor_result(processes: int, rates: list[float], floors: list[float], where: str) -> Result:
    ratios = [ledger / floor for ledger, floor in zip(rates, floors, strict=True)]
    ratio = statistics.median(ratios)
    what = "1 process" if processes == 1 else f"{processes} processes"
    return Result(
        name=f"Ledger.apply_event on PostgreSQL, {what}, rate vs floor",
        figure=f"{ratio:.2f} of floor",
        value=ratio,
        target=f">= {FLOOR_TARGET}",
        met=ratio >= FLOOR_TARGET,
        notes=(
            f"{statistics.median(rates):,.0f} vs floor {statistics.median(floors):,.0f} events/s;"
            f" median of {len(ratios)} rounds of {4 * CHARGES} events (ratios {min(ratios):.2f}"
            f"-{max(ratios):.2f}); floor: psycopg 3, per event a dedupe insert, a row lock,"
            f" an update, a commit; {where}"
        ),
    )


def not_measured(why: str) -> list[Result]:
    return [
        Result(
            name=f"Ledger.apply_event on PostgreSQL, {where}, rate vs floor",
            figure="not measured",
            target=f">= {FLOOR_TARGET}",
            met=None,
            notes=why,
        )
        for where in ("1 process", f"{PROCESSES} processes")
    ]


def postgres_via_ci_script() -> list[Result]:
    """No server given: run this script again inside a shell that sourced .ci/postgres.sh."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    script = 'source .ci/postgres.sh >&2 && "$0" "$1" "$2"'
    env = {**os.environ, "PAYMUX_BENCH_OUT": path}
    env.pop("PAYMUX_TEST_POSTGRES_URL", None)
    try:
        proc = subprocess.run(  # noqa: S603 - our own scripts
            ["bash", "-c", script, sys.executable, str(HERE / "bench_ledger.py"), PG_ONLY],  # noqa: S607
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        rows = json.loads(Path(path).read_text() or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        return not_measured(f"PostgreSQL via .ci/postgres.sh failed: {type(error).__name__}")
    finally:
        Path(path).unlink(missing_ok=True)
    if proc.returncode != 0 or not rows:
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])[-200:] or f"exit {proc.returncode}"
        return not_measured(f"no PostgreSQL: .ci/postgres.sh: {tail}".replace("|", "/"))
    return [Result(**row) for row in rows]


def main() -> None:
    base = os.environ.get("PAYMUX_BENCH_POSTGRES_URL") or os.environ.get("PAYMUX_TEST_POSTGRES_URL")
    if PG_ONLY in sys.argv:
        if not base:
            print("bench_ledger: no PostgreSQL URL after sourcing .ci/postgres.sh", file=sys.stderr)
            sys.exit(1)
        emit(postgres_results(base))
        return
    results = sqlite_results()
    results += postgres_results(base) if base else postgres_via_ci_script()
    emit(results)


if __name__ == "__main__":
    main()
