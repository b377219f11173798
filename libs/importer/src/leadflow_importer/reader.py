"""Stream rows out of real-world CSV and XLSX files in bounded memory.

CSV: UTF-8 (with or without BOM), falling back to Windows-1252/Latin-1; separator sniffed among
``, ; TAB |``; quoted newlines handled by the csv module. Row numbers are the record's first physical
line (the header is line 1), i.e. the row a person finds in a spreadsheet; XLSX rows are sheet rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SEPARATORS = ",;\t|"


@dataclass
class FileInfo:
    encoding: str
    delimiter: str | None
    headers: list[str]
    size_bytes: int


def detect_encoding(path: Path, sample_size: int = 1 << 20) -> str:
    raw = path.read_bytes()[:sample_size] if path.stat().st_size <= sample_size else _head(path, sample_size)
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(raw) - 3:
            return "utf-8"
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _head(path: Path, n: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(SEPARATORS, key=first.count) if any(c in first for c in SEPARATORS) else ","


class CountingReader:
    """Wraps a text stream and counts the characters read, for a byte-based progress/ETA.

    A plain line iterator (all ``csv.reader`` needs), not an ``io.TextIOBase``: the byte-typed
    ``IOBase.__next__`` would make every line method an incompatible override."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner
        self.chars = 0

    def readline(self, size: int = -1) -> str:
        line = self.inner.readline(size)
        self.chars += len(line)
        return line

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class RowSource:
    """Iterate (row_number, values) of a CSV or XLSX file; ``progress()`` gives 0..1."""

    def __init__(self, path: Path, *, sheet: str | None = None) -> None:
        self.path = path
        self.sheet = sheet
        self.size = path.stat().st_size
        self._progress = 0.0
        self.info: FileInfo | None = None

    def progress(self) -> float:
        return self._progress

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        if self.path.suffix.lower() in {".xlsx", ".xlsm"}:
            yield from self._xlsx_rows()
        else:
            yield from self._csv_rows()

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        encoding = detect_encoding(self.path)
        with self.path.open("r", encoding=encoding, newline="") as fh:
            sample = fh.read(64 * 1024)
            fh.seek(0)
            delimiter = sniff_delimiter(sample)
            counting = CountingReader(fh)
            reader = csv.reader(counting, delimiter=delimiter)
            headers = next(reader, [])
            self.info = FileInfo(encoding, delimiter, [h.strip() for h in headers], self.size)
            while True:
                # A record with quoted newlines spans several lines; a person finds it in a spreadsheet
                # at its *first* line, so that is the row number reported.
                first_line = reader.line_num + 1
                values = next(reader, None)
                if values is None:
                    break
                self._progress = min(1.0, counting.chars / max(1, self.size))
                if not any(v.strip() for v in values):
                    continue
                yield first_line, values
        self._progress = 1.0

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        from openpyxl import load_workbook

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            ws = wb[self.sheet] if self.sheet else wb.worksheets[0]
            total = ws.max_row or 1
            it = ws.iter_rows(values_only=True)
            headers = ["" if v is None else str(v).strip() for v in next(it, ())]
            self.info = FileInfo("xlsx", None, headers, self.size)
            for n, values in enumerate(it, start=2):
                self._progress = min(1.0, n / total)
                cells = ["" if v is None else _cell(v) for v in values]
                if any(c.strip() for c in cells):
                    yield n, cells
        finally:
            wb.close()
        self._progress = 1.0


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
