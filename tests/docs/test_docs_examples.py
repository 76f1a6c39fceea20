"""Every Python block of README.md and docs/ runs, page by page and in page order, on the sandbox.

The blocks are found by sybil's Markdown lexer. All blocks of one page share one namespace, which
starts with what the pages take as given: a running ``sandbox``, ``gw`` (a Gateway on it),
``request`` (a KakaoPay request in Korea, not sent yet), ``charge`` (another one, created) and
``ledger`` (a Ledger on a fresh SQLite file). The working directory holds a ``paymux.toml`` that
points every provider at the sandbox, so ``Gateway.from_config("paymux.toml")`` works too.
A block preceded by ``<!-- fragment -->`` is deliberately incomplete (it names things the page
never defines, like a web framework's ``request``): it is compiled, not run.

The quick start is run by ``test_quickstart_in_a_fresh_interpreter`` instead: its blocks, in
order, as one script in a new Python process, which must finish with a refunded charge on each
provider.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser

from paymux import ChargeRequest, Customer, Gateway, Ledger, Money, ReturnUrls
from paymux.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FRAGMENT = "<!-- fragment -->"
QUICKSTART = DOCS / "quickstart.md"

PAGES = sorted(
    [ROOT / "README.md", *DOCS.rglob("*.md")],
    key=lambda p: p.relative_to(ROOT).as_posix(),
)


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def is_fragment(example: Example) -> bool:
    before = example.document.text[: example.start].rstrip()
    return before.endswith(FRAGMENT)


def _code(example: Example) -> Any:
    line = example.line + 1  # the fence is on example.line; the code starts below it
    source = "\n" * (line - 1) + str(example.parsed)
    return compile(source, example.path, "exec", dont_inherit=True)


def run_block(example: Example) -> None:
    code = _code(example)
    if not is_fragment(example):
        exec(code, example.namespace)


def python_blocks(page: Path) -> list[Example]:
    parser = CodeBlockParser(language="python", evaluator=run_block)
    return list(Document.parse(str(page), parser))


def quickstart_script() -> str:
    blocks = [str(e.parsed) for e in python_blocks(QUICKSTART) if not is_fragment(e)]
    return "\n".join(blocks)


def toml_block(page: Path, first_line: str) -> str:
    lexed = Document.parse(str(page), CodeBlockParser(language="toml", evaluator=lambda e: None))
    for example in lexed:
        text = str(example.parsed)
        if text.startswith(first_line):
            return text
    raise AssertionError(f"{page.name} shows no toml block starting with {first_line!r}")


def sandbox_toml(settings: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for name, values in settings.items():
        lines.append(f"[providers.{name}]")
        for key, value in values.items():
            shown = str(value) if isinstance(value, int) else f'"{value}"'
            lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


# A sandbox of its own for each page: its blocks count the callbacks in the inbox.
@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def page_namespace(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    (tmp_path / "paymux.toml").write_text(sandbox_toml(sandbox.provider_settings()))
    monkeypatch.chdir(tmp_path)
    with Gateway(providers=sandbox.provider_settings()) as gw:
        ledger = Ledger(gw, url=f"sqlite:///{tmp_path / 'given-ledger.db'}")
        given = {
            "__name__": "docs_page",
            "sandbox": sandbox,
            "gw": gw,
            "request": kakaopay_in_korea(f"order-{next(_pages)}"),
            "charge": gw.create_charge(kakaopay_in_korea(f"given-{next(_pages)}")),
            "ledger": ledger,
        }
        yield given
        ledger.close()


_pages = itertools.count(100_000)


def kakaopay_in_korea(reference: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(10_000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success="https://shop.example/paid", decline="https://shop.example/declined"
        ),
    )


@pytest.mark.parametrize("page", [p for p in PAGES if p != QUICKSTART], ids=_page_id)
def test_every_python_block_of_the_page_runs(page: Path, page_namespace: dict[str, Any]) -> None:
    examples = python_blocks(page)
    if examples:
        examples[0].document.namespace.update(page_namespace)
    for example in examples:
        example.evaluate()


def test_quickstart_in_a_fresh_interpreter(tmp_path: Path) -> None:
    # The page's own paymux.toml, with the sandbox's test keys in the variables it names: the
    # script's last sections load it (real base URLs, but nothing is sent there).
    (tmp_path / "paymux.toml").write_text(toml_block(QUICKSTART, "# paymux.toml"))
    env = {
        **os.environ,
        "ECOMMPAY_SECRET_KEY": "docs-test-secret",
        "OMISE_SECRET_KEY": "skey_test_docs",
        "OMISE_PUBLIC_KEY": "pkey_test_docs",
        "OMISE_WEBHOOK_SECRET": "ZG9jcy10ZXN0LXdlYmhvb2stc2VjcmV0",
    }
    (tmp_path / "quickstart.py").write_text(quickstart_script())
    done = subprocess.run(
        [sys.executable, "quickstart.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "paymux-quickstart.db") as db:
        rows = db.execute(
            "SELECT provider, status, refunded, amount FROM paymux_charges ORDER BY provider"
        ).fetchall()
    assert [(p, s) for p, s, _, _ in rows] == [("ecommpay", "refunded"), ("omise", "refunded")]
    assert all(refunded == amount for _, _, refunded, amount in rows)
    assert "ecommpay refunded" in done.stdout
    assert "omise refunded" in done.stdout


def test_a_fragment_is_compiled_not_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro.\n\n"
        f"{FRAGMENT}\n```python\nundefined_name.explode()\n```\n\n"
        "```python\nran = True\n```\n"
    )
    examples = python_blocks(page)
    assert [is_fragment(e) for e in examples] == [True, False]
    for example in examples:
        example.evaluate()
    assert examples[1].namespace["ran"] is True

    page.write_text(f"{FRAGMENT}\n```python\ndef broken(:\n```\n")
    with pytest.raises(SyntaxError):
        python_blocks(page)[0].evaluate()


def test_a_failing_block_names_its_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Intro.\n\n```python\nx = 1\nassert x == 2\n```\n")
    (example,) = python_blocks(page)
    with pytest.raises(AssertionError) as failure:
        example.evaluate()
    frame = failure.traceback[-1]
    assert Path(str(frame.path)).name == "page.md"
    assert frame.lineno + 1 == 5
