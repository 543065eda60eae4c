"""The knowledge tables as rows: CSV files of codes and synonyms, read and checked.

Every table is a CSV file with a header line. A row that cannot be used stops loading with a
`TerminologyError` whose message is one line naming the file, the line and what is wrong, so
a mistake in a table (ours or a site's) is found at start-up, not while advising.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

VERIFIED_VALUES = ("yes", "partial", "no")

# Where the built-in tables are shipped: `fhir_mappings/data/` (package data).
DATA_PACKAGE = "fhir_mappings"
DATA_DIR = "data"

# The columns of every table of codes and synonyms, in order.
CODE_COLUMNS = ("concept", "system", "code", "display", "source", "verified", "note")
# A site file names the table each row extends in an extra first column.
SITE_COLUMNS = ("table", *CODE_COLUMNS)


class TerminologyError(ValueError):
    """A table could not be loaded; the message is one line naming the file and line."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where a row came from, for messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file} line {self.line}"

    def error(self, problem: str) -> TerminologyError:
        return TerminologyError(f"{self}: {' '.join(problem.split())}")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a table: the cells by column name, and where it came from."""

    where: Where
    cells: tuple[tuple[str, str], ...]

    def __getitem__(self, column: str) -> str:
        for name, value in self.cells:
            if name == column:
                return value
        raise KeyError(column)

    def required(self, column: str) -> str:
        value = self[column]
        if not value:
            raise self.where.error(f"the {column} column is empty")
        return value


def read_table(text: str, file: str, columns: Sequence[str]) -> tuple[Row, ...]:
    """The rows of one CSV text whose header must be exactly `columns`.

    Blank lines and lines whose first cell starts with `#` are comments.
    """
    lines = _records(text, file)
    try:
        line, header = next(lines)
    except StopIteration:
        raise Where(file, 1).error("the file is empty; expected a header line") from None
    header = [cell.strip().lower() for cell in header]
    if tuple(header) != tuple(columns):
        raise Where(file, line).error(
            f"the header is {','.join(header)}; expected {','.join(columns)}"
        )
    rows = []
    for line, record in lines:
        where = Where(file, line)
        if len(record) != len(columns):
            raise where.error(
                f"{len(record)} cells where the header has {len(columns)} "
                "(a cell containing a comma must be in double quotes)"
            )
        rows.append(Row(where, tuple(zip(columns, (c.strip() for c in record), strict=True))))
    return tuple(rows)


def builtin_label(name: str) -> str:
    """How messages name a built-in table file."""
    return f"{DATA_PACKAGE}/{DATA_DIR}/{name}"


@cache
def builtin_rows(name: str, columns: tuple[str, ...]) -> tuple[Row, ...]:
    """The rows of one built-in table, read once per process."""
    resource = files(DATA_PACKAGE).joinpath(DATA_DIR, name)
    return read_table(resource.read_text(encoding="utf-8"), builtin_label(name), columns)


def check_verified(row: Row) -> str:
    """The verified cell: yes, partial or no; anything but yes must say why in `note`."""
    verified = row.required("verified").lower()
    if verified not in VERIFIED_VALUES:
        raise row.where.error(f"verified is {verified!r}; expected one of yes, partial, no")
    if verified != "yes" and not row["note"]:
        raise row.where.error(
            f"verified is {verified} but the note column does not say why the row is used"
        )
    row.required("source")
    return verified


def _records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise Where(file, reader.line_num).error(f"not valid CSV: {error}") from None
        if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
            continue
        yield reader.line_num, record
