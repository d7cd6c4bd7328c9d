"""The benchmark sections; each returns a JSON-able dict of figures and target verdicts."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.data import write_long_csv, write_many_series_csv, write_single_csv
from bench.processes import Run, run
from bench.reading import section as reading_section
from bench.threads import section as threads_section

TRAINING_CASES = [(cell, window, hidden) for cell in ("lstm", "gru", "rnn")
                  for window in (48, 168) for hidden in (64, 128)]


@dataclass(frozen=True)
class Context:
    data: Path  # generated files and models, reused between runs
    quick: bool

    @property
    def repeats(self) -> int:
        return 2 if self.quick else 3


def median_run(args: list[str], repeats: int, forecastr: bool = True) -> dict:
    """Median wall time, peak memory and phases over `repeats` runs of the same command."""
    runs = [run(args, forecastr) for _ in range(repeats)]
    phases = {name: statistics.median(r.phases.get(name, 0.0) for r in runs)
              for name in runs[0].phases}
    return {"seconds": statistics.median(r.seconds for r in runs),
            "peak_mb": statistics.median(r.peak_mb for r in runs), "phases": phases,
            "runs": len(runs)}


def training(context: Context) -> dict:
    """forecastr's training loop against the bare loop, windows per second."""
    import torch

    from bench.throughput import Case, measure

    cases = TRAINING_CASES[:2] if context.quick else TRAINING_CASES
    rows = [measure(Case(cell, window, hidden, 256), torch.device("cpu"),
                    repeats=3 if context.quick else 5, seconds=0.3 if context.quick else 0.7)
            for cell, window, hidden in cases]
    worst = min(row["ratio"] for row in rows)
    return {"rows": rows, "threads": torch.get_num_threads(),
            "target": "forecastr / bare >= 0.85 at every size", "worst_ratio": worst,
            "met": worst >= 0.85}


def subdaily(context: Context) -> dict:
    """Training at the windows of hourly and half-hourly data (168 and 336 steps), step by
    step and in segments of a day (window / 7 steps), for each cell, at batch 32 and 256,
    with denormals flushed as fit does on the CPU."""
    import torch

    from bench.throughput import Case, measure
    from forecastr.config import FitConfig
    from forecastr.network.device import flush_denormals

    cpu = torch.device("cpu")
    cases = [(cell, window, batch) for cell in ("gru", "lstm", "rnn") for window in (168, 336)
             for batch in (32, 256)]
    cases = cases[:2] if context.quick else cases
    rows = []
    with flush_denormals(cpu):
        for cell, window, batch in cases:
            for segment in (1, window // 7):
                rows.append(measure(Case(cell, window, 64, batch, horizon=48, segment=segment),
                                    cpu, repeats=2 if context.quick else 3,
                                    seconds=0.3 if context.quick else 1.0))
    def ratios(column: str) -> dict[str, float]:
        return {f"{r['cell']} {r['window']} batch {r['batch']}": r[column] / p[column]
                for p, r in zip(rows[::2], rows[1::2])}

    speedups, bare = ratios("forecastr_windows_per_s"), ratios("bare_windows_per_s")
    # judged at fit's default batch; at small batches each step's fixed cost of a few
    # operations dominates, and the bare loop's ratio there shows that ceiling
    default = FitConfig().batch_size
    judged = [v for k, v in speedups.items() if k.endswith(f" 336 batch {default}")]
    return {"rows": rows, "speedups": speedups, "bare_speedups": bare,
            "target": f"segments at window 336 and the default batch of {default} >= 10 x the "
            "windows/s of step-by-step recurrence", "worst_336": min(judged, default=None),
            "met": bool(judged) and min(judged) >= 10}


def fit_model(context: Context) -> Path:
    """The model of the fit section (default options), trained once and reused."""
    series, length = fit_shape(context)
    model = context.data / f"fit-{series}x{length}.fcst"
    if not model.exists():
        fit(context)
    return model


def fit_shape(context: Context) -> tuple[int, int]:
    return (200, 1000) if context.quick else (1000, 1000)


def fit(context: Context) -> dict:
    """End-to-end `forecastr fit` on 1,000 hourly series x 1,000 points, 2 epochs."""
    series, length = fit_shape(context)
    data = write_long_csv(context.data / f"panel-{series}x{length}.csv", series, length)
    model = context.data / f"fit-{series}x{length}.fcst"
    measured = median_run(["fit", str(data), "-o", str(model), "--epochs", "2",
                           "--patience", "100", "--device", "cpu", "-v"], context.repeats)
    return {"series": series, "length": length, "epochs": 2, "options": "defaults",
            **measured}


def default_fit(context: Context) -> dict:
    """`forecastr fit` with every default on 1,000 monthly series x 150 points: the size
    that a default fit should finish in about a minute on two cores."""
    series, length = (200, 150) if context.quick else (1000, 150)
    data = write_long_csv(context.data / f"monthly-{series}x{length}.csv", series, length,
                          freq="MS")
    model = context.data / f"default-{series}x{length}.fcst"
    measured = median_run(["fit", str(data), "-o", str(model), "--device", "cpu", "-v"],
                          1 if context.quick else 2)
    training = json.loads(run(["info", str(model), "--json"]).stdout)["training"]
    return {"series": series, "length": length, **measured,
            **{k: training[k] for k in ("steps", "epochs_run", "stopped", "train_windows",
                                        "windows_per_second")},
            "target": "about 60 s", "met": measured["seconds"] <= 75}


def predict(context: Context) -> dict:
    """`forecastr predict` of 10,000 series x 500 points against pandas.read_csv alone."""
    series, length = (2000, 500) if context.quick else (10_000, 500)
    data = write_long_csv(context.data / f"panel-{series}x{length}.csv", series, length,
                          seed=1)
    model = fit_model(context)
    output = context.data / "forecast.csv"
    measured = median_run(["predict", str(model), str(data), "-o", str(output), "--device",
                           "cpu", "-v"], context.repeats)
    reference = [_read_csv(data) for _ in range(context.repeats)]
    read_csv = statistics.median(r["seconds"] for r in reference)
    frame_mb = reference[0]["frame_mb"]
    time_limit, memory_limit = 2 * read_csv + 1, 3 * frame_mb + 500
    # all but reading and the network's own work: start-up, the model, windows, writing
    overhead_limit = measured["phases"]["read"] + measured["phases"]["forward"] + 2.5
    return {"series": series, "length": length, **measured, "read_csv_seconds": read_csv,
            "frame_mb": frame_mb, "time_target": "total <= 2 x read_csv + 1 s",
            "time_limit": time_limit, "time_met": measured["seconds"] <= time_limit,
            "overhead_target": "total <= read + forward + 2.5 s",
            "overhead_limit": overhead_limit,
            "overhead_met": measured["seconds"] <= overhead_limit,
            "memory_target": "peak <= 3 x frame + 500 MB", "memory_limit_mb": memory_limit,
            "memory_met": measured["peak_mb"] <= memory_limit}


def _read_csv(path: Path) -> dict:
    code = ("import json, time, pandas as pd\n"
            "started = time.perf_counter()\n"
            f"frame = pd.read_csv({str(path)!r})\n"
            "seconds = time.perf_counter() - started\n"
            "print(json.dumps({'seconds': seconds, "
            "'frame_mb': frame.memory_usage(deep=True).sum() / 2**20}))")
    return json.loads(run(["-c", code], forecastr=False).stdout)


def startup(context: Context) -> dict:
    """`forecastr --help` and `--version` against `python -c pass`."""
    repeats = 5 if context.quick else 9
    timed = {name: statistics.median(run(args, forecastr).seconds for _ in range(repeats))
             for name, args, forecastr in [("python -c pass", ["-c", "pass"], False),
                                           ("forecastr --help", ["--help"], True),
                                           ("forecastr --version", ["--version"], True)]}
    extra = timed["forecastr --help"] - timed["python -c pass"]
    return {"seconds": timed, "help_over_python": extra,
            "target": "--help <= python -c pass + 0.25 s", "met": extra <= 0.25}


def memory(context: Context) -> dict:
    """Peak RSS of one fit epoch on a 2,000,000-point series at window 32 and 512, and of
    predict at 1,000 and 100,000 series."""
    length = 200_000 if context.quick else 2_000_000
    single = write_single_csv(context.data / f"single-{length}.csv", length)
    fits = {}
    # batch 256 is the default; batch 16 (with fewer windows per epoch, to keep it short)
    # shows how much of the difference is the recurrent activations, B x L x hidden
    for batch, epoch_size in ((256, 4096), (16, 256)):
        for window in (32, 512):
            measured: Run = run([
                "fit", str(single), "-o", str(context.data / "memory.fcst"), "--window",
                str(window), "--horizon", "24", "--epochs", "1", "--batch-size", str(batch),
                "--epoch-size", str(epoch_size), "--device", "cpu", "-v"])
            fits[f"window {window}, batch {batch}"] = {
                "window": window, "batch": batch, "seconds": measured.seconds,
                "peak_mb": measured.peak_mb, "phases": measured.phases}
    model = fit_model(context)
    predicts = {}
    for series in ((100, 10_000) if context.quick else (1_000, 100_000)):
        data = write_long_csv(context.data / f"panel-{series}x60.csv", series, 60, seed=2)
        measured = run(["predict", str(model), str(data), "-o",
                        str(context.data / "memory.csv"), "--device", "cpu", "-v"])
        predicts[series] = {"seconds": measured.seconds, "peak_mb": measured.peak_mb,
                            "phases": measured.phases}
    ratio = fits["window 512, batch 256"]["peak_mb"] / fits["window 32, batch 256"]["peak_mb"]
    small = fits["window 512, batch 16"]["peak_mb"] / fits["window 32, batch 16"]["peak_mb"]
    low, high = sorted(predicts)
    return {"series_length": length, "fit": fits, "fit_ratio_512_over_32": ratio,
            "fit_ratio_512_over_32_batch_16": small,
            "target": "fit peak at window 512 <= 1.2 x at window 32", "met": ratio <= 1.2,
            "predict": predicts,
            "predict_ratio": predicts[high]["peak_mb"] / predicts[low]["peak_mb"]}


def streaming(context: Context) -> dict:
    """Peak RSS and time of `predict --chunk-series 10000` at 10^4, 10^5 and 10^6 series x 60
    points (10^3 to 10^5 when quick), against the in-memory predict of the smallest."""
    model = fit_model(context)
    chunk = 10_000
    sizes = (1_000, 10_000, 100_000) if context.quick else (10_000, 100_000, 1_000_000)
    rows = {}
    for series in sizes:
        data = write_many_series_csv(context.data / f"many-{series}x60.csv", series, 60,
                                     seed=3)
        measured = run(["predict", str(model), str(data), "-o",
                        str(context.data / "streamed.csv"), "--chunk-series", str(chunk),
                        "--device", "cpu", "-v"])
        rows[series] = {"seconds": measured.seconds, "peak_mb": measured.peak_mb,
                        "mb": data.stat().st_size / 2**20, "phases": measured.phases}
        data.unlink()  # 10^6 series are 2 GB of CSV
    smallest = write_many_series_csv(context.data / f"many-{sizes[0]}x60.csv", sizes[0], 60,
                                     seed=3)
    whole = run(["predict", str(model), str(smallest), "-o", str(context.data / "whole.csv"),
                 "--device", "cpu", "-v"])
    peaks = [r["peak_mb"] for r in rows.values()]
    return {"chunk_series": chunk, "length": 60, "rows": rows,
            "in_memory": {"series": sizes[0], "seconds": whole.seconds,
                          "peak_mb": whole.peak_mb},
            "ratio": max(peaks) / min(peaks),
            "target": "peak memory within 1.5 x from the smallest to the largest file",
            "met": max(peaks) / min(peaks) <= 1.5}


def processes(context: Context) -> dict:
    """Training throughput of `fit --nproc 1` and `--nproc 2` (DistributedDataParallel over
    gloo, each process with half the cores) on 1,000 hourly series x 1,000 points, window 48,
    the same global batch of 256."""
    series, length = fit_shape(context)
    data = write_long_csv(context.data / f"panel-{series}x{length}.csv", series, length)
    rows = {}
    for nproc in (1, 2):
        model = context.data / f"processes-{nproc}.fcst"
        measured = run(["fit", str(data), "-o", str(model), "--window", "48", "--horizon",
                        "24", "--max-steps", "60" if context.quick else "200", "--patience",
                        "100", "--device", "cpu", "--nproc", str(nproc)])
        training = json.loads(run(["info", str(model), "--json"]).stdout)["training"]
        rows[nproc] = {"seconds": measured.seconds, "steps": training["steps"],
                       "windows_per_second": training["windows_per_second"],
                       "train_seconds": training["seconds"]}
    return {"series": series, "length": length, "rows": rows,
            "speedup": rows[2]["windows_per_second"] / rows[1]["windows_per_second"]}


def shard_series(context: Context) -> dict:
    """Peak memory of each process of `fit --nproc 2`, every process reading the whole panel
    or only its own series (--shard-series), on 10,000 hourly series x 500 points (a
    160 MB CSV), with `--nproc 1` for scale; 20 training steps, as the memory of reading and
    windowing is what is measured."""
    series, length = (2_000, 500) if context.quick else (10_000, 500)
    data = write_many_series_csv(context.data / f"many-{series}x{length}.csv", series, length)
    rows = {}
    for name, extra in (("1 process", ["--nproc", "1"]), ("2 processes", ["--nproc", "2"]),
                        ("2 processes, --shard-series", ["--nproc", "2", "--shard-series"])):
        model = context.data / "shard-series.fcst"
        measured = run(["fit", str(data), "-o", str(model), "--window", "48", "--horizon",
                        "24", "--max-steps", "20", "--device", "cpu", "-v", *extra])
        peaks = measured.rank_peak_mb or {0: measured.peak_mb}
        rows[name] = {"seconds": measured.seconds, "read_seconds": measured.phases.get("read"),
                      "rank_peak_mb": [peaks[r] for r in sorted(peaks)]}
    # what a process holds whatever the data: torch, pandas, the process group
    tiny = write_many_series_csv(context.data / "many-10x500.csv", 10, length)
    fixed = run(["fit", str(tiny), "-o", str(context.data / "shard-series.fcst"), "--max-steps",
                 "20", "--device", "cpu", "--quiet", "--nproc", "2", "--shard-series"])
    fixed_mb = max(fixed.rank_peak_mb.values())
    whole, sharded = (max(rows[n]["rank_peak_mb"]) for n in ("2 processes",
                                                              "2 processes, --shard-series"))
    return {"series": series, "length": length, "csv_mb": data.stat().st_size / 2**20,
            "rows": rows, "ratio": sharded / whole, "fixed_mb": fixed_mb,
            "data_ratio": (sharded - fixed_mb) / (whole - fixed_mb)}


def cuda(context: Context) -> dict:
    """Training throughput on a GPU at batch 256 and 1024, fp32 and bf16, against the bare
    loop on the same GPU; skipped without one."""
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device on this machine"}
    from bench.throughput import Case, measure

    device = torch.device("cuda")
    rows = [measure(Case("gru", 168, 128, batch), device, precision)
            for batch in (256, 1024) for precision in ("32", "bf16")]
    by = {(r["batch"], r["precision"]): r["forecastr_windows_per_s"] for r in rows}
    return {"device": torch.cuda.get_device_name(device), "rows": rows,
            "worst_ratio": min(r["ratio"] for r in rows),
            "bf16_faster": all(by[(b, "bf16")] > by[(b, "32")] for b in (256, 1024))}


ALL: dict[str, Callable[[Context], dict]] = {
    "startup": startup, "training": training, "subdaily": subdaily, "fit": fit,
    "default_fit": default_fit,
    "predict": predict, "reading": reading_section,
    "memory": memory, "streaming": streaming, "processes": processes,
    "shard_series": shard_series, "threads": threads_section, "cuda": cuda}
