"""Writing demo rolls to files (CSV UTF-8/GBK, XLSX), optionally with corrupted rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from yiyang.core.clock import today_local
from yiyang.demo.generate import community_codes, elder_rows, regions
from yiyang.registry.importer import TEMPLATE


def rows(n: int, seed: int, bad_every: int = 0) -> Iterator[dict[str, str]]:
    for i, row in enumerate(
        elder_rows(n, seed, community_codes(regions()), today_local()), start=1
    ):
        if bad_every and i % bad_every == 0:
            number = row["身份证号"]
            row["身份证号"] = number[:-1] + (
                "0" if number[-1] != "0" else "1"
            )  # break the checksum
        yield row


def write_roll(out: Path, n: int, seed: int, bad_every: int = 0) -> None:
    if out.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("老人名册")
        sheet.append(TEMPLATE)
        for row in rows(n, seed, bad_every):
            sheet.append([row.get(h, "") for h in TEMPLATE])
        book.save(out)
        return
    encoding = "gb18030" if out.name.endswith(".gbk.csv") else "utf-8"
    with out.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TEMPLATE)
        writer.writeheader()
        writer.writerows(rows(n, seed, bad_every))
