"""Time columns: dd/mm and mm/dd dates decided from the whole column, or given; a file whose
points are mostly made up by gap filling is said to be, with the likely causes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from forecastr.config import FitConfig
from forecastr.errors import DataError
from forecastr.reader import read_panel
from forecastr.times import parse_times

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
