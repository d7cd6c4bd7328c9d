"""The `reading` section: forecastr's reader (read_panel: times parsed, the grid, every check)
against pandas.read_csv of the same long file with the C engine (times left as text), the C
engine then pd.to_datetime with the format given, and engine="pyarrow" (times parsed).

All run in this process, interleaved, after one unmeasured run each (imports, page cache),
so that other work on the machine weighs on every reader alike; the load is recorded."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from bench.data import write_many_series_csv

TARGET = 1.5  # read_panel at most this many times pandas.read_csv(engine="pyarrow")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # as bench.data writes the times
LABELS = {"forecastr": "forecastr read_panel",
          "forecastr_without_pyarrow": "forecastr read_panel, pyarrow's reader unused",
          "pandas_c": "pandas.read_csv, C engine (times as text)",
          "pandas_c_to_datetime": "pandas.read_csv, C engine + pd.to_datetime(format=...)",
          "pandas_pyarrow": "pandas.read_csv(engine=\"pyarrow\")"}


def section(context) -> dict:
    """read_panel of 10,000 hourly series x 500 points (2,000 when quick) against pandas."""
    import pandas as pd

    from forecastr.data import arrow_csv
    from forecastr.data.reader import read_panel

    series, length = (2_000, 500) if context.quick else (10_000, 500)
    data = write_many_series_csv(context.data / f"many-{series}x{length}.csv", series, length)

    def without_pyarrow() -> None:  # what reading costs where pyarrow is not installed
        kept, arrow_csv.SMALLEST = arrow_csv.SMALLEST, 1 << 62
        try:
            read_panel(data)
        finally:
            arrow_csv.SMALLEST = kept

    readers: dict[str, Callable[[], object]] = {
        "forecastr": lambda: read_panel(data),
        "forecastr_without_pyarrow": without_pyarrow,
        "pandas_c": lambda: pd.read_csv(data),
        "pandas_c_to_datetime": lambda: pd.to_datetime(pd.read_csv(data)["ds"],
                                                       format=TIME_FORMAT),
        "pandas_pyarrow": lambda: pd.read_csv(data, engine="pyarrow")}
    repeats = 3 if context.quick else 5
    load = os.getloadavg()[0]
    seconds = medians(readers, repeats)
    ratio = seconds["forecastr"] / seconds["pandas_pyarrow"]
    return {"series": series, "length": length, "csv_mb": data.stat().st_size / 2**20,
            "runs": repeats, "seconds": seconds, "ratio": ratio,
            "load": [round(load, 2), round(os.getloadavg()[0], 2)], "cores": os.cpu_count(),
            "target": f"read_panel <= {TARGET} x pandas.read_csv(engine=\"pyarrow\")",
            "met": ratio <= TARGET}


def medians(readers: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each reader over `repeats` interleaved rounds, after one round
    that is not counted."""
    for read in readers.values():
        read()
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(repeats):
        for name, read in readers.items():
            started = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def render_section(s: dict) -> list[str]:
    reference = s["seconds"]["pandas_pyarrow"]
    rows = [f"{s['series']:,} hourly series x {s['length']} points in long format "
            f"({s['csv_mb']:,.0f} MB), median of {s['runs']} interleaved runs in one process; "
            f"load average {s['load'][0]:.2f} before, {s['load'][1]:.2f} after, on "
            f"{s['cores']} cores.", "",
            "| reader | seconds | x pyarrow engine |", "|---|---|---|"]
    rows += [f"| {LABELS[name]} | {seconds:.2f} | {seconds / reference:.2f} |"
             for name, seconds in s["seconds"].items()]
    return rows + ["", f"read_panel / pandas.read_csv(engine=\"pyarrow\"): {s['ratio']:.2f} "
                   f"(target {s['target']}): {'**met**' if s['met'] else '**not met**'}."]
