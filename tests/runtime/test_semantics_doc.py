"""docs/semantics.md and the runtime tests cite the same conformance items.

Each item C1..C56 of docs/semantics.md is covered by at least one test that cites
it (``test_c17_...`` or a docstring ``C17: ...``, or a range ``C3-C8`` in a test
module's docstring); a citation of an item the page does not define leads nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "semantics.md"
ITEM_ROW = re.compile(r"^\| C(\d+) \|", re.M)
CITATION = re.compile(r"\bC(\d+)(?:\s*[-\u2013]\s*C?(\d+))?\b|\btest_c(\d+)_")


def items_defined(text: str) -> set[int]:
    return {int(n) for n in ITEM_ROW.findall(text)}


def items_cited(text: str) -> set[int]:
    cited: set[int] = set()
    for first, last, test_name in CITATION.findall(text):
        if test_name:
            cited.add(int(test_name))
        elif last:
            cited.update(range(int(first), int(last) + 1))
        else:
            cited.add(int(first))
    return cited


def cited_by_tests() -> set[int]:
    cited: set[int] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.resolve() != Path(__file__).resolve():
            cited |= items_cited(path.read_text())
    return cited


def test_the_page_defines_every_item_once_in_order() -> None:
    numbers = [int(n) for n in ITEM_ROW.findall(DOC.read_text())]
    assert numbers == list(range(1, 57))


def test_every_item_is_cited_by_a_test() -> None:
    missing = items_defined(DOC.read_text()) - cited_by_tests()
    assert not missing, f"items no test cites: {sorted(missing)}"


def test_every_citation_leads_to_an_item() -> None:
    dangling = cited_by_tests() - items_defined(DOC.read_text())
    assert not dangling, f"tests cite items docs/semantics.md does not define: {sorted(dangling)}"


def test_the_parsers_see_rows_ranges_and_test_names() -> None:
    assert items_defined("| C1 | a |\n| C2 | b |\ntext C3\n") == {1, 2}
    assert items_cited('"""Section 2: nodes (C3-C8)."""') == {3, 4, 5, 6, 7, 8}
    assert items_cited("def test_c17_errors(): ...\n'''C20: overlap'''") == {17, 20}
