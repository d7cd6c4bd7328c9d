"""Threads against the machine forecastr runs on. The study behind the default of one thread
per process (`python bench/threads.py`): training windows/s with one thread and with one
per core, across the cells, windows, hidden sizes and batch sizes forecastr uses, on an idle
machine and beside a busy process. The suite's section (`python -m bench --only threads`):
whole commands, a fit and a predict, idle, beside a busy process and in a one-CPU affinity
mask (what `taskset -c 0` gives), with the default and with a thread per core (torch's own
default, which forecastr used before).

Every comparison is measured in the same run, interleaved; the busy process is
`python -c 'while True: pass'`, one core's worth of other work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: `python bench/threads.py`
    sys.path.insert(0, str(ROOT))

from bench.data import write_long_csv  # noqa: E402
from bench.processes import run  # noqa: E402

PER_CORE = os.cpu_count() or 1  # torch's own default: a thread per core it sees


@contextlib.contextmanager
def busy(on: bool = True) -> Iterator[None]:
    """One core's worth of other work beside the body (nothing when `on` is false)."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # scheduled before the work starts
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@contextlib.contextmanager
def pinned(cpus: set[int] | None) -> Iterator[None]:
    """Processes started in the body inherit an affinity mask of `cpus`, as under taskset."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def training_grid(quick: bool, loaded: bool) -> list[dict]:
    """Windows/s of forecastr's training loop at 1 thread and at a thread per core, per size."""
    import torch

    from bench.throughput import Case, forecastr_rate, setup

    device = torch.device("cpu")
    sizes = [(cell, window, hidden, batch) for cell in ("gru", "lstm")
             for window in (36, 168) for hidden in (32, 64, 128, 256)
             for batch in (64, 256, 1024)]
    if quick:
        sizes = [s for s in sizes if s[0] == "gru" and s[2] in (64, 256) and s[3] != 1024]
    counts = sorted({1, PER_CORE})
    rows = []
    with busy(loaded):
        for cell, window, hidden, batch in sizes:
            cfg, model, data, windows, empty = setup(Case(cell, window, hidden, batch), device)
            torch.set_num_threads(PER_CORE)
            forecastr_rate(cfg, model, data, windows, empty, 2, device, "32")  # warm up
            started = time.perf_counter()
            forecastr_rate(cfg, model, data, windows, empty, 2, device, "32")
            batches = max(2, round((0.2 if quick else 0.5) / (time.perf_counter() - started)
                                   * 2))
            rates: dict[int, list[float]] = {n: [] for n in counts}
            for _ in range(2 if quick else 3):  # interleaved, so that drift hits both
                for n in counts:
                    torch.set_num_threads(n)
                    rates[n].append(forecastr_rate(cfg, model, data, windows, empty, batches,
                                                   device, "32"))
            medians = {n: statistics.median(r) for n, r in rates.items()}
            rows.append({"cell": cell, "window": window, "hidden": hidden, "batch": batch,
                         "busy": loaded, "windows_per_s": {str(n): round(v) for n, v in
                                                           medians.items()},
                         "one_vs_per_core": medians[1] / medians[PER_CORE]})
            print(f"threads: {'busy' if loaded else 'idle'} {cell} L={window} h={hidden} "
                  f"b={batch}: 1 thread {medians[1]:,.0f}, {PER_CORE} threads "
                  f"{medians[PER_CORE]:,.0f} windows/s", file=sys.stderr, flush=True)
    torch.set_num_threads(1)
    return rows


def study(quick: bool = False) -> dict:
    """The grid idle and beside a busy process, and what it says of the default."""
    idle, loaded = training_grid(quick, False), training_grid(quick, True)
    return {"per_core": PER_CORE, "idle": idle, "busy": loaded,
            "idle_worst_one_vs_per_core": min(r["one_vs_per_core"] for r in idle),
            "idle_best_one_vs_per_core": max(r["one_vs_per_core"] for r in idle),
            "busy_worst_one_vs_per_core": min(r["one_vs_per_core"] for r in loaded)}


def section(context) -> dict:
    """A fit and a predict, idle, beside a busy process and in a one-CPU mask, with the
    default threads and with a thread per core (OMP_NUM_THREADS, as torch would choose)."""
    repeats = 1 if context.quick else 3
    steps = "50" if context.quick else "200"
    model = context.data / "threads.fcst"
    fit_args = ["fit", str(ROOT / "sample_data" / "long.csv"), "-o", str(model),
                "--max-steps", steps, "--device", "cpu", "-v"]
    panel = write_long_csv(context.data / "threads-1000x200.csv", 1000, 200, seed=3)
    predictor = context.data / "threads-predict.fcst"
    if not predictor.exists():
        run(["fit", str(panel), "-o", str(predictor), "--max-steps", "20", "--device", "cpu"])
    predict_args = ["predict", str(predictor), str(panel), "-o",
                    str(context.data / "threads-forecast.csv"), "--device", "cpu", "-v"]
    conditions = {"idle": (False, None), "busy": (True, None), "one_cpu_mask": (False, {0})}
    variants = {"default": {}, "per_core": {"OMP_NUM_THREADS": str(PER_CORE)}}
    figures: dict[str, dict] = {}
    for command, args in (("fit", fit_args), ("predict", predict_args)):
        for condition, (loaded, cpus) in conditions.items():
            for variant, environ in variants.items():
                if cpus is not None and variant == "per_core":
                    continue  # a mask is what the default must respect; forcing more is moot
                runs = []
                with busy(loaded), pinned(cpus):
                    for _ in range(repeats):
                        runs.append(run(args, env={**os.environ, **environ}))
                said = next((line.split("threads: ", 1)[1] for line in runs[0].stderr
                             .splitlines() if "threads: " in line), None)
                figures[f"{command}/{condition}/{variant}"] = {
                    "seconds": statistics.median(r.seconds for r in runs),
                    "forward_seconds": statistics.median(r.phases.get("forward", 0.0)
                                                         for r in runs),
                    "training_seconds": statistics.median(r.phases.get("training", 0.0)
                                                          for r in runs),
                    "threads": said, "runs": repeats}
                print(f"threads: {command} {condition} {variant}: "
                      f"{figures[f'{command}/{condition}/{variant}']}", file=sys.stderr,
                      flush=True)
    fit_ratio = (figures["fit/busy/default"]["seconds"]
                 / figures["fit/idle/default"]["seconds"])
    masked = figures["fit/one_cpu_mask/default"]["threads"] or ""
    return {"figures": figures, "per_core": PER_CORE,
            "fit_busy_vs_idle": fit_ratio, "fit_target": "busy <= 1.3 x idle",
            "fit_met": fit_ratio <= 1.3,
            "idle_default_vs_per_core": {
                command: figures[f"{command}/idle/default"]["seconds"]
                / figures[f"{command}/idle/per_core"]["seconds"]
                for command in ("fit", "predict")},
            "mask_threads": masked, "mask_met": masked.startswith("1 thread")}


def _cell(figure: dict, phase: str) -> str:
    """A command's wall time with the seconds of its training or forward phase."""
    return f"{figure['seconds']:.2f} ({phase} {figure[phase + '_seconds']:.2f})"


def render_section(s: dict) -> list[str]:
    rows = [f"Wall time in seconds (median of {next(iter(s['figures'].values()))['runs']}); "
            f"'per core' is torch's own default, {s['per_core']} threads here.", "",
            "| command | machine | default | per core | default threads |",
            "|---|---|---|---|---|"]
    for command in ("fit", "predict"):
        for condition in ("idle", "busy", "one_cpu_mask"):
            default = s["figures"][f"{command}/{condition}/default"]
            other = s["figures"].get(f"{command}/{condition}/per_core")
            phase = "training" if command == "fit" else "forward"
            rows.append(f"| {command} | {condition.replace('_', ' ')} | "
                        f"{_cell(default, phase)} | "
                        f"{_cell(other, phase) if other else '-'} | {default['threads']} |")
    verdict = "**met**" if s["fit_met"] else "**not met**"
    rows += ["", f"Default fit beside a busy process: {s['fit_busy_vs_idle']:.2f}x its idle "
             f"time (target {s['fit_target']}): {verdict}. In a one-CPU mask the default "
             f"used {s['mask_threads']}: {'**met**' if s['mask_met'] else '**not met**'}."]
    return rows


def render_study(results: dict) -> list[str]:
    lines = ["# Threads: one per process against one per core", "",
             "`python bench/threads.py`: training windows/s of forecastr's loop with 1 thread "
             f"and with {results['per_core']} (a thread per core, torch's default), the same "
             "model and batches, interleaved; idle, then beside one busy process.", ""]
    for key in ("idle", "busy"):
        lines += [f"## {key}", "", "| cell | window | hidden | batch | 1 thread | "
                  f"{results['per_core']} threads | 1 / per core |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['cell']} | {r['window']} | {r['hidden']} | {r['batch']} | "
                  f"{r['windows_per_s']['1']:,} | {r['windows_per_s'][str(results['per_core'])]:,}"
                  f" | {r['one_vs_per_core']:.2f} |" for r in results[key]]
        lines.append("")
    lines += [f"Idle, one thread ran at {results['idle_worst_one_vs_per_core']:.2f}x to "
              f"{results['idle_best_one_vs_per_core']:.2f}x the speed of a thread per core; "
              f"beside a busy process at least {results['busy_worst_one_vs_per_core']:.2f}x."]
    return lines


def invariance(quick: bool = False) -> dict:
    """Whether the thread count changes what training computes: the gradients of one batch
    through a recurrent layer and a head, with 1, 2 and 4 threads, compared bit for bit, at
    every size of the grid. Where any differ, a thread count chosen by timing would make a
    seeded fit depend on the machine's load."""
    import itertools

    import torch

    cells, hiddens = (("gru", "lstm"), (32, 64)) if quick else (("gru", "lstm", "rnn"),
                                                                (32, 64, 128, 256))
    rows = []
    for cell, hidden, batch, window, layers in itertools.product(
            cells, hiddens, (64, 256, 1024), (36, 168), (1, 2)):
        if batch * window * hidden > 1024 * 168 * 64:  # the largest the study trains
            continue
        generator = torch.Generator().manual_seed(1)
        recurrent = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell](
            3, hidden, num_layers=layers, batch_first=True)
        head = torch.nn.Linear(hidden, 12)
        x = torch.randn(batch, window, 3, generator=generator)
        y = torch.randn(batch, 12, generator=generator)
        parameters = [*recurrent.parameters(), *head.parameters()]
        computed = []
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            for parameter in parameters:
                parameter.grad = None
            out, _ = recurrent(x)
            torch.nn.functional.mse_loss(head(out[:, -1]), y).backward()
            computed.append([parameter.grad.clone() for parameter in parameters])
        differs = max(float((a - b).abs().max()) for other in computed[1:]
                      for a, b in zip(computed[0], other))
        rows.append({"cell": cell, "hidden": hidden, "batch": batch, "window": window,
                     "layers": layers, "largest_difference": differs})
    torch.set_num_threads(1)
    return {"rows": rows, "differ": sum(r["largest_difference"] > 0 for r in rows)}


def render_invariance(results: dict) -> list[str]:
    differing = [r for r in results["rows"] if r["largest_difference"] > 0]
    lines = ["# Does the thread count change the results?", "",
             "`python bench/threads.py --invariance`: the gradients of one batch through a "
             "recurrent layer and a linear head, with 1, 2 and 4 threads, compared bit for "
             f"bit. They differed at {results['differ']} of {len(results['rows'])} sizes:", "",
             "| cell | hidden | batch | window | layers | largest difference |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['cell']} | {r['hidden']} | {r['batch']} | {r['window']} | {r['layers']} "
              f"| {r['largest_difference']:.2g} |" for r in differing]
    return lines


def main() -> None:
    from bench import report

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--invariance", action="store_true",
                        help="whether the thread count changes the gradients, instead")
    args = parser.parse_args()
    if args.invariance:
        results = {"machine": report.machine(), **invariance(args.quick)}
        report.save(args.out, "threads_invariance" + ("_quick" if args.quick else ""),
                    results, render_invariance(results))
        return
    results = {"machine": report.machine(), **study(args.quick)}
    report.save(args.out, "threads" if not args.quick else "threads_quick", results,
                render_study(results))


if __name__ == "__main__":
    main()
