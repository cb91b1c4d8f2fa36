"""Cells for every CSV and XLSX Meld writes, safe to open in Excel and LibreOffice.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, and a tab
or carriage return in front of one hides it (OWASP, "CSV Injection"): `=HYPERLINK(...)`
typed into a report would be a live link in the group's spreadsheet. `formula_like` is
the one rule; every writer applies it through `csv_cell` (a leading apostrophe, which a
spreadsheet shows as text) or `xlsx_cell` (a text cell with Excel's quote prefix, the
value itself unchanged). Numbers stay numbers: `-3` and `-0.25` are no formulas.

CSV dialects: `standard` is comma-separated with a decimal point (RFC 4180, for
scripts); `excel-nb` is what a Norwegian Excel opens by double-click: semicolons, a
decimal comma (written with a UTF-8 byte-order mark by the caller, so æøå read right).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

# a spreadsheet takes a cell starting with one of these as a formula (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# text that is just a number: a spreadsheet reads it as that number, nothing to run
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def formula_like(value: object) -> bool:
    """True for text a spreadsheet would take as a formula (numbers and plain numeric
    text such as "-3" or "-0,5" are not)."""
    return (isinstance(value, str) and value.startswith(FORMULA_START)
            and _PLAIN_NUMBER.fullmatch(value) is None)


@dataclass(frozen=True, slots=True)
class CsvDialect:
    name: str
    delimiter: str
    decimal: str  # the decimal separator of numbers with a fraction

    def fixed(self, value: float | None, digits: int) -> str:
        """A number with `digits` decimals in this dialect ("" for None)."""
        return "" if value is None else f"{value:.{digits}f}".replace(".", self.decimal)


STANDARD = CsvDialect("standard", ",", ".")
EXCEL_NB = CsvDialect("excel-nb", ";", ",")
CSV_DIALECTS = {d.name: d for d in (STANDARD, EXCEL_NB)}


def csv_cell(value: object, dialect: CsvDialect = STANDARD) -> object:
    """A value for a CSV cell: None is empty, formula-like text gets a leading apostrophe,
    a float gets the dialect's decimal separator; ints, dates and other text as they are.
    Line breaks in text become "\\n" (the csv module would leave a lone "\\r" unquoted
    when lines end in "\\n", and a spreadsheet would start a new row there)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.replace("\r\n", "\n").replace("\r", "\n")
        return "'" + text if formula_like(value) else text
    if isinstance(value, float):
        return repr(value).replace(".", dialect.decimal)
    return value


class CsvWriter:
    """`csv.writer` that passes every cell through `csv_cell`: no caller can forget one."""

    def __init__(self, out: IO[str], dialect: CsvDialect | str = STANDARD, *,
                 lineterminator: str = "\r\n") -> None:
        self.dialect = CSV_DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self._writer = csv.writer(out, delimiter=self.dialect.delimiter,
                                  lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([csv_cell(v, self.dialect) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def xlsx_cell(cell: Any, value: object) -> Any:
    """Set an openpyxl cell: text is always a text cell (never a formula), and formula-like
    text also gets Excel's quote prefix, so editing the cell keeps it text; numbers and
    dates as they are."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if formula_like(value):
            cell.quotePrefix = True
    return cell
