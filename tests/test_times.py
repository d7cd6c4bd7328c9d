"""Time columns: dd/mm and mm/dd dates decided from the whole column, or given; a file whose
points are mostly made up by gap filling is said to be, with the likely causes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from forecastr.config import FitConfig
from forecastr.data.reader import read_panel
from forecastr.data.times import parse_times
from forecastr.errors import DataError

MONTHS = pd.date_range("2020-01-01", periods=48, freq="MS")


def parsed(texts, **options) -> list[str]:
    raw = pd.Series(texts)
    stamps = parse_times(raw, "data.csv: column 'date'", np.arange(2, 2 + len(raw)), False,
                         **options).values
    return [str(t)[:10] for t in stamps]


def test_a_day_or_month_above_12_decides_the_order_for_the_whole_column():
    # 01/02 alone is ambiguous; 13/02 in a later row can only be day first
    assert parsed(["01/02/2020", "13/02/2020"]) == ["2020-02-01", "2020-02-13"]
    assert parsed(["01/02/2020", "02/13/2020"]) == ["2020-01-02", "2020-02-13"]
    with pytest.raises(DataError, match=r"dates have their day first in some rows and second "
                                        r"in others \(e\.g\. '13/02/2020' and '02/13/2020'\)"):
        parsed(["01/02/2020", "13/02/2020", "02/13/2020"])


def test_undecided_dates_take_the_reading_that_gives_a_regular_series(caplog):
    # monthly data written dd/mm: read month first (pandas' way) they were daily data with
    # 1,060 filled gaps, forecasts dated on the wrong days, exit 0
    day_first = list(MONTHS.strftime("%d/%m/%Y"))
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        assert parsed(day_first) == [str(t)[:10] for t in MONTHS]
    assert "dates such as '01/01/2020' read day first, which gives the more regular series " \
           "(pass --no-dayfirst to read them the other way)" in caplog.text
    assert parsed(list(MONTHS.strftime("%m/%d/%Y"))) == [str(t)[:10] for t in MONTHS]


def test_the_order_or_the_format_can_be_given():
    assert parsed(["01/02/2020", "01/03/2020"], dayfirst=True) == ["2020-02-01", "2020-03-01"]
    assert parsed(["01/02/2020", "01/03/2020"], dayfirst=False) == ["2020-01-02", "2020-01-03"]
    assert parsed(["01.02.2020 13:00"], date_format="%d.%m.%Y %H:%M") == ["2020-02-01"]
    with pytest.raises(DataError, match=r"cannot read the times with --date-format '%Y-%m'"):
        parsed(["01/02/2020"], date_format="%Y-%m")


def test_a_file_mostly_made_of_filled_gaps_says_the_likely_causes(tmp_path, caplog):
    data = tmp_path / "ddmm.csv"
    pd.DataFrame({"date": MONTHS.strftime("%d/%m/%Y"), "y": np.arange(48.0)}).to_csv(
        data, index=False)
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        panel = read_panel(data, FitConfig(dayfirst=False))  # the misreading, forced
    assert panel.schema.freq == "D" and int(panel.filled.sum()) == 1060
    assert "filled 1060 missing point(s) in 1 series (--fill linear); 96% of the points are " \
           "made up: are the times read right (day first? --dayfirst, --date-format) and is " \
           "the frequency right (--freq)?" in caplog.text
    assert read_panel(data).schema.freq == "MS"  # decided from the column


def test_times_of_day_in_a_zone_with_daylight_saving_are_refused_in_one_line(tmp_path, cli):
    # hourly, ending at 01:00 before the spring change: the next hour, 02:00, never happens
    hours = pd.date_range(end=pd.Timestamp("2024-03-10 01:00", tz="America/New_York"),
                          periods=24 * 15, freq="h")
    data = tmp_path / "hourly.parquet"
    pd.DataFrame({"ds": hours, "y": np.sin(np.arange(len(hours)) / 3.8)}).to_parquet(data)
    refused = cli(["fit", data, "-o", tmp_path / "m.fcst", "--max-steps", "2"])
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1
    assert "times of day in time zone America/New_York, whose clocks change for daylight " \
           "saving" in refused.stderr and "pass --utc" in refused.stderr
    fitted = cli(["fit", data, "-o", tmp_path / "m.fcst", "--max-steps", "2", "--utc",
                  "--horizon", "3"])
    assert fitted.exit_code == 0, fitted.stderr
    forecast = cli(["predict", tmp_path / "m.fcst", data])
    assert forecast.exit_code == 0, forecast.stderr
    # in UTC, the hours go on across the change: 06:00 UTC is 01:00 EST, 07:00 UTC is 03:00
    # EDT
    assert [line.split(",")[0] for line in forecast.stdout.splitlines()[1:]] == [
        "2024-03-10 07:00:00+00:00", "2024-03-10 08:00:00+00:00", "2024-03-10 09:00:00+00:00"]
    fixed = tmp_path / "fixed.parquet"  # a zone without daylight saving: its wall clock
    pd.DataFrame({"ds": hours.tz_convert("Asia/Kolkata"), "y": np.arange(len(hours))}
                 ).to_parquet(fixed)
    assert read_panel(fixed).schema.tz == "Asia/Kolkata"


def test_dates_in_a_zone_with_daylight_saving_keep_its_offsets(tmp_path, cli):
    days = pd.date_range("2024-10-01", periods=40, freq="D", tz="America/New_York")
    data = tmp_path / "daily.parquet"
    pd.DataFrame({"ds": days, "y": np.arange(40.0) % 7}).to_parquet(data)
    fitted = cli(["fit", data, "-o", tmp_path / "m.fcst", "--max-steps", "2", "--horizon", "3"])
    assert fitted.exit_code == 0, fitted.stderr
    forecast = cli(["predict", tmp_path / "m.fcst", data])
    assert [line.split(",")[0] for line in forecast.stdout.splitlines()[1:]] == [
        "2024-11-10 00:00:00-05:00", "2024-11-11 00:00:00-05:00", "2024-11-12 00:00:00-05:00"]


def test_a_forecast_date_whose_midnight_a_zone_skips_is_written_at_the_next_hour():
    from forecastr.forecasting.table import _time_column

    # Cuba moves its clocks from 00:00 to 01:00 on 2024-03-10, and back at 01:00 in November
    days = np.array(["2024-03-09", "2024-03-10", "2024-03-11"], dtype="datetime64[ns]")
    assert [str(t) for t in _time_column(days, "America/Havana")] == [
        "2024-03-09 00:00:00-05:00", "2024-03-10 01:00:00-04:00", "2024-03-11 00:00:00-04:00"]
