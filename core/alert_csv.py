"""A series a user brings to `mkbvm alerts`: the CSV is checked line by line, the alerts go out as CSV.

Input: a header line and one line per period, oldest first. Columns (names
in any case, in any order; other columns are ignored):

* `period`: `JJJJ-MM` (2008-01) or a date `JJJJ-MM-DD`;
* `value`: a number (a point as decimal sign; in a file separated by `;` a
  comma may be the decimal sign, as Dutch spreadsheets write it);
* optionally `ci_low` and `ci_high`, both or neither: the interval of each
  value (95 % unless `--confidence` says otherwise).

Every problem is a `SeriesFileError` naming the line number (the header is
line 1), the column, the value and the rule, in Dutch. Output: `period`
(as given), `level` (empty, `signaal` or `alarm`) and `reason`, one line per
input line, in the same order.

A series without intervals gets its uncertainty from its own history: the
normal movement from one period to the next, estimated from the changes
before each period (`privacy.alerts.movement_variance`: a clipped mean square
of the changes, robust to a crisis among them); its noise per period is then 0.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from core.landing import write_atomically
from privacy.alerts import AlertRule, Wording, Worse, series_alerts

REQUIRED, INTERVAL = ("period", "value"), ("ci_low", "ci_high")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_BYTES = 50_000_000


class SeriesFileError(ValueError):
    """A line of the user's file breaks a rule: the message names line, column, value and rule (Dutch)."""

    def __init__(self, line: int | None, field: str | None, value: str | None, rule: str):
        self.line, self.field, self.value, self.rule = line, field, value, rule
        where = (f"regel {line}" if line else "bestand") + (f", kolom '{field}'" if field else "")
        shown = f": '{value}'" if value is not None else ""
        super().__init__(f"{where}{shown}: {rule}")


def parse_period(text: str, line: int) -> date:
    """The first day of a period written as JJJJ-MM or JJJJ-MM-DD.

    >>> parse_period("2008-03", 2), parse_period("2020-04-30", 3)
    (datetime.date(2008, 3, 1), datetime.date(2020, 4, 30))
    """
    month = MONTH.fullmatch(text)
    try:
        if month:
            return date(int(month[1]), int(month[2]), 1)
        if DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise SeriesFileError(line, "period", text, "is geen periode: schrijf JJJJ-MM (bijvoorbeeld 2008-01) of een datum JJJJ-MM-DD")


def parse_number(text: str, field: str, line: int, decimal_comma: bool) -> float:
    """A finite number; with `decimal_comma` '1,5' is 1.5 (a ';'-separated file).

    >>> parse_number("-12.5", "value", 2, False), parse_number("3,25", "value", 2, True)
    (-12.5, 3.25)
    """
    written = text.replace(",", ".", 1) if decimal_comma and text.count(",") == 1 and "." not in text else text
    if not text:
        raise SeriesFileError(line, field, text, "is leeg: vul een getal in")
    if not NUMBER.fullmatch(written) or not math.isfinite(float(written)):
        sign = "een punt of een komma" if decimal_comma else "een punt"
        raise SeriesFileError(line, field, text, f"is geen getal (gebruik {sign} als decimaalteken, zonder duizendtallen, bijvoorbeeld -12.5)")
    return float(written)


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise SeriesFileError(line, None, None, "het bestand is geen UTF-8-tekst (sla het op als CSV UTF-8)") from None


def _header(row: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in row]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in columns and name in (*REQUIRED, *INTERVAL):
            raise SeriesFileError(1, name, None, "staat twee keer in de kopregel")
        columns.setdefault(name, index)
    for name in REQUIRED:
        if name not in columns:
            raise SeriesFileError(1, name, None, "ontbreekt in de kopregel (verplicht: period en value; ci_low en ci_high mogen erbij, samen)")
    present = [name for name in INTERVAL if name in columns]
    if len(present) == 1:
        missing = next(name for name in INTERVAL if name not in columns)
        raise SeriesFileError(1, missing, None, f"ontbreekt terwijl {present[0]} er wel is: ci_low en ci_high horen samen (allebei of geen van beide)")
    return columns


def read_series(content: bytes) -> pl.DataFrame:
    """The checked series: period (as written), start (date), value, and ci_low, ci_high when given.

    >>> read_series(b"period,value\\n2008-01,5\\n2008-02,-3.5\\n")["value"].to_list()
    [5.0, -3.5]
    >>> try:
    ...     read_series(b"period,value\\n2008-02,5\\n2008-01,3\\n")
    ... except SeriesFileError as error:
    ...     print(error)
    regel 3, kolom 'period': '2008-01': komt vóór 2008-02 van regel 2: zet de perioden op volgorde, oudste eerst
    """
    text = _text(content)
    if not text.strip():
        raise SeriesFileError(1, None, None, "het bestand is leeg (verwacht een kopregel, bijvoorbeeld: period,value)")
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns = _header(header)
        with_interval = "ci_low" in columns
        rows, seen, previous = [], {}, None
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line (often the last one) says nothing
            if len(row) != len(header):  # one more field is often a decimal comma in a file separated by commas
                raise SeriesFileError(line, None, None, f"heeft {len(row)} velden en de kopregel {len(header)}: elke regel heeft "
                                      "dezelfde kolommen (een komma als decimaalteken kan alleen in een bestand met ; als scheidingsteken)")
            cell = {name: row[index].strip() for name, index in columns.items()}
            start = parse_period(cell["period"], line)
            if start in seen:
                raise SeriesFileError(line, "period", cell["period"], f"staat al op regel {seen[start]}: elke periode mag één keer voorkomen")
            if previous is not None and start < previous[0]:
                raise SeriesFileError(line, "period", cell["period"], f"komt vóór {previous[1]} van regel {previous[2]}: zet de perioden op volgorde, oudste eerst")
            seen[start], previous = line, (start, cell["period"], line)
            value = parse_number(cell["value"], "value", line, delimiter == ";")
            record = {"period": cell["period"], "start": start, "value": value}
            if with_interval:
                if not cell["ci_low"] and not cell["ci_high"]:
                    raise SeriesFileError(line, "ci_low", "", "is leeg: vul ci_low en ci_high op elke regel in (of laat beide kolommen weg)")
                low, high = (parse_number(cell[name], name, line, delimiter == ";") for name in INTERVAL)
                if low > high:
                    raise SeriesFileError(line, "ci_low", cell["ci_low"], f"is groter dan ci_high ({cell['ci_high']}): de ondergrens mag niet boven de bovengrens liggen")
                if not low <= value <= high:
                    raise SeriesFileError(line, "value", cell["value"], f"ligt buiten het eigen interval {cell['ci_low']} tot {cell['ci_high']}")
                record |= {"ci_low": low, "ci_high": high}
            rows.append(record)
    except csv.Error as error:
        raise SeriesFileError(reader.line_num, None, None, f"is geen geldige CSV-regel ({error})") from None
    if not rows:
        raise SeriesFileError(2, None, None, "er staan geen gegevens onder de kopregel")
    schema = {"period": pl.Utf8, "start": pl.Date, "value": pl.Float64} | ({"ci_low": pl.Float64, "ci_high": pl.Float64} if with_interval else {})
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True)
class Outcome:
    """What `alerts_for_file` did: the alerts per period, and where they went."""

    alerts: pl.DataFrame  # period, level, reason
    output: Path


def alerts_for_file(input_path: Path, output_path: Path, *, worse: Worse = "lower", confidence: float = 0.95,
                    rule: AlertRule | None = None) -> Outcome:
    """Read and check `input_path`, apply the rule, write `output_path` atomically (period, level, reason)."""
    if not input_path.is_file():
        raise SeriesFileError(None, None, str(input_path), "dit bestand bestaat niet (of is geen gewoon bestand)")
    if input_path.stat().st_size > MAX_BYTES:
        raise SeriesFileError(None, None, str(input_path), f"het bestand is groter dan {MAX_BYTES // 1_000_000} MB")
    series = read_series(input_path.read_bytes())
    frame = series.rename({"value": "estimate"})
    result = series_alerts(frame, worse=worse, rule=rule, wording=Wording(unit="punten", period_word="periode", period_plural="perioden"), confidence=confidence)
    alerts = result.select("period", pl.col("alert").alias("level"), "reason")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", "level", "reason"])
    writer.writerows(alerts.iter_rows())
    folder = output_path.resolve().parent
    if not folder.is_dir():
        raise SeriesFileError(None, None, str(output_path), "de map voor het uitvoerbestand bestaat niet")
    write_atomically(folder, output_path.name, buffer.getvalue().encode("utf-8"), public=True)
    return Outcome(alerts, output_path)
