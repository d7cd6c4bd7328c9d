"""Everything the user reads: rich tables on a terminal, JSON for scripts, and the stderr
log handler. Imported only by cli.py; the library never prints."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

SERIES_SHOWN = 20  # longer panels are summarised; --json lists every series


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Send the library's log records to stderr as `forecastr: warning: ...` lines."""
    logger = logging.getLogger("forecastr")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("forecastr: %(levelname_lower)s: %(message)s"))
    handler.addFilter(_lowercase_level)
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _lowercase_level(record: logging.LogRecord) -> bool:
    record.levelname_lower = record.levelname.lower()
    return True


def write_json(data: Any, stream: TextIO) -> None:
    stream.write(json.dumps(data, indent=2) + "\n")


def show_inspect(report: dict[str, Any], stream: TextIO) -> None:
    """Two tables: what the file is, then one row per series (the first SERIES_SHOWN)."""
    console = Console(file=stream, highlight=False)
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    time_axis = report["time_col"] or "(none: row order)"
    if report["time_kind"] == "datetime":
        time_axis += f", frequency {report['freq']}" + (f", {report['tz']}" if report["tz"] else "")
    elif report["time_kind"] == "integer":
        time_axis += f", integer steps of {report['step']}"
    rows = [("source", report["source"]), ("layout", report["layout"]), ("time", time_axis)]
    if report["id_col"]:
        rows.append(("id column", report["id_col"]))
    rows += [("targets", ", ".join(report["targets"])),
             ("features", ", ".join(report["features"]) or "(none)"),
             ("series", f"{report['n_series']} with {report['n_points']:,} points"),
             ("gaps filled", f"{report['filled']:,} points"),
             ("windows", _windows_text(report["windows"]))]
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)
    table = Table(title=None, show_lines=False)
    for name, justify in [("series", "left"), ("length", "right"), ("start", "left"),
                          ("end", "left"), ("filled", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in report["series"][:SERIES_SHOWN]:
        table.add_row(item["id"], f"{item['length']:,}", str(item["start"]), str(item["end"]),
                      f"{item['filled']:,}")
    console.print(table)
    if report["n_series"] > SERIES_SHOWN:
        console.print(f"... and {report['n_series'] - SERIES_SHOWN} more series (--json lists all)")


def _windows_text(windows: dict[str, Any]) -> str:
    shape = f"window {windows['window']} + horizon {windows['horizon']}"
    if "error" in windows:
        return f"{shape}: none possible"
    text = f"{shape}: {windows['train']:,} training, {windows['val']:,} validation"
    if windows["padded"]:
        text += f"; {len(windows['padded'])} series left-padded"
    if windows["skipped"]:
        text += f"; {len(windows['skipped'])} series too short, skipped"
    return text
