"""The README's "Exit codes" table, parsed, so tests compare the code with what users read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(?:`(\w+)`)?\s*\|\s*(.+?)\s*\|\s*$")


@dataclass(frozen=True)
class ExitTable:
    """``family name -> code`` and ``meaning -> code`` for the codes without a family."""

    by_family: dict[str, int]
    by_meaning: dict[str, int]

    def code_for(self, keyword: str) -> int:
        """The code whose meaning (a row without a family) contains ``keyword``."""
        found = [code for meaning, code in self.by_meaning.items() if keyword in meaning]
        assert len(found) == 1, f"README exit codes: {keyword!r} matches {found}"
        return found[0]


def readme_exit_codes(readme: Path = README) -> ExitTable:
    """Parse the table under the README's ``## Exit codes`` heading."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    by_family: dict[str, int] = {}
    by_meaning: dict[str, int] = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if not match:
            continue
        code, family, meaning = int(match[1]), match[2], match[3]
        if family:
            assert family not in by_family, f"README lists {family} twice"
            by_family[family] = code
        else:
            by_meaning[meaning] = code
    assert by_family, "README: no exit-code table under '## Exit codes'"
    return ExitTable(by_family, by_meaning)
