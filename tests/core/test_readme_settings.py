"""The README's configuration table names every setting in core/config.py, and nothing else.

A row may name several settings (`YIYANG_A` / `YIYANG_B`) or a family with a wildcard
(`YIYANG_SMTP_*`); the table must be one table (a blank line would end it and hide the rest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yiyang.core.config import Settings

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"
NAME = re.compile(r"`(YIYANG_[A-Z0-9_]+\*?)`")


def _configuration_table() -> list[str]:
    """The rows of the first table under "## Configuration", up to the first non-table line."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    lines = section.split("\n## ", 1)[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows[2:]  # after the header and its |---| line


def _documented() -> dict[str, str]:
    """Each name in the table's first column → its meaning (the row's last cell)."""
    out = {}
    for row in _configuration_table():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 3, f"a row needs variable | default | meaning: {row}"
        names = NAME.findall(cells[0])
        assert names, f"a row without a YIYANG_ variable: {row}"
        assert cells[2], f"a row without a meaning: {row}"
        for name in names:
            out[name] = cells[2]
    return out


def _covers(pattern: str, setting: str) -> bool:
    if pattern.endswith("*"):
        return setting.startswith(pattern[:-1])
    return setting == pattern


def test_the_readme_table_names_every_setting() -> None:
    documented = _documented()
    settings = sorted(f"YIYANG_{name.upper()}" for name in Settings.model_fields)
    missing = [s for s in settings if not any(_covers(p, s) for p in documented)]
    assert missing == [], f"settings missing from the README's configuration table: {missing}"


def test_the_readme_table_names_no_setting_that_does_not_exist() -> None:
    settings = [f"YIYANG_{name.upper()}" for name in Settings.model_fields]
    stale = [p for p in _documented() if not any(_covers(p, s) for s in settings)]
    assert stale == [], f"README rows for settings core/config.py does not have: {stale}"


def test_the_configuration_section_has_one_table() -> None:
    """Every YIYANG_ row of the section is in the table read above (no blank line splits it)."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `YIYANG_")]
    assert rows == [r for r in _configuration_table() if r.startswith("| `YIYANG_")]
