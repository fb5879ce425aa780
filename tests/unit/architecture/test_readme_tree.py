"""The README's "Repository structure" block names every top-level folder.

It also says what each Python package may import, so the picture cannot drift from the tree.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {"kernel", "storage", "chain", "incentives", "fl_node", "marketplace_api", "fedmarket"}


def structure_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Repository structure", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].strip("\n").splitlines()


def entries(lines: list[str]) -> dict[str, str]:
    """Top-level folder -> its description (continuation lines joined)."""
    found: dict[str, str] = {}
    current = ""
    for line in lines:
        match = re.match(r"^(\S+)/\s+(.*)$", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2)
        elif current and line.startswith(" ") and not re.match(r"^\s{2}\S+/", line):
            found[current] += " " + line.strip()
    return found


def tracked_top_level_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {f.split("/", 1)[0] for f in files if "/" in f and not f.startswith(".")}


def test_every_top_level_folder_has_one_line() -> None:
    assert set(entries(structure_block())) == tracked_top_level_folders()


def test_every_package_says_what_it_may_import() -> None:
    described = entries(structure_block())
    for package in PACKAGES:
        assert re.search(r"\bImports?\b", described[package]), package
