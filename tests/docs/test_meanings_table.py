"""docs/meanings.md and the contract kit agree row for row (issue 13: "the kit checks every row").

Each row of the table has an id; ``paymux.testing.meanings.MEANINGS`` names the kit test that
checks it, and that test exists in the kit class it names. A new row without a check fails here,
and so does a check for a row that is gone, or a row whose page cell names another test.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from paymux.testing import contract, emulator_contract
from paymux.testing.meanings import MEANINGS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "meanings.md"
KIT = {
    "ProviderContract": contract.ProviderContract,
    "EmulatorContract": emulator_contract.EmulatorContract,
}
ROW = re.compile(r'^\| <a id="(?P<id>[a-z0-9-]+)"></a>`(?P=id)` \|.*\| `(?P<check>[\w.]+)` \|$')


def rows() -> dict[str, str]:
    """Row id -> the check its last cell names, for every row of the page's table."""
    found: dict[str, str] = {}
    table = [line for line in PAGE.read_text().splitlines() if line.startswith("| <a id=")]
    for line in table:
        match = ROW.match(line)
        assert match, f"a row the table's format does not fit: {line[:80]}"
        assert match["id"] not in found, f"row id {match['id']} twice"
        found[match["id"]] = match["check"]
    return found


def test_the_page_has_a_table_of_meanings() -> None:
    assert len(rows()) >= 10


def test_every_row_has_a_kit_check_and_every_check_a_row() -> None:
    table = rows()
    assert sorted(table) == sorted(MEANINGS), (
        f"rows without a check: {sorted(set(table) - set(MEANINGS))};"
        f" checks without a row: {sorted(set(MEANINGS) - set(table))}"
    )
    for row_id, check in table.items():
        assert check == MEANINGS[row_id], f"{row_id}: the page names {check}"


def test_every_check_is_a_test_of_the_kit() -> None:
    for row_id, check in MEANINGS.items():
        kit_class, _, test = check.partition(".")
        assert kit_class in KIT, f"{row_id}: {kit_class} is not a kit class"
        assert test.startswith("test_"), f"{row_id}: {test} is not a test"
        assert callable(getattr(KIT[kit_class], test, None)), f"{row_id}: no {check}"


def test_a_row_without_a_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The agreement above can fail: a page with one more row than the kit checks.
    page = tmp_path / "meanings.md"
    extra = '| <a id="new-word"></a>`new-word` | w | m | e | o | `ProviderContract.test_x` |'
    page.write_text(PAGE.read_text() + extra + "\n")
    monkeypatch.setattr(sys.modules[__name__], "PAGE", page)
    with pytest.raises(AssertionError, match="new-word"):
        test_every_row_has_a_kit_check_and_every_check_a_row()
