"""What flushing denormal floats to zero is worth on the CPU: forecastr's training loop
(train.train) in windows per second with torch.set_flush_denormal off and on, at the
windows of the training benchmark (48, 168) and the half-hourly one (336), for each cell at
hidden 64; and whether the losses differ.

Run: python bench/denormals.py [--repeats 3]; writes bench/results/denormals.md and .json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.throughput import Case, forecastr_rate, setup  # noqa: E402
from forecastr.training import train  # noqa: E402

SIZES = [(cell, window, 64) for cell in ("gru", "lstm", "rnn") for window in (48, 168, 336)]


def rate(case: Case, flush: bool, repeats: int) -> float:
    """Median windows/s of forecastr's training loop over `repeats` runs of about a second."""
    torch.set_flush_denormal(flush)
    cfg, model, data, windows, empty = setup(case, torch.device("cpu"))
    cpu = torch.device("cpu")
    probe = forecastr_rate(cfg, model, data, windows, empty, 2, cpu, "32")  # and warm-up
    batches = max(2, round(probe / case.batch))
    return statistics.median(forecastr_rate(cfg, model, data, windows, empty, batches, cpu,
                                            "32") for _ in range(repeats))


def losses(case: Case, flush: bool) -> list[float]:
    """The training losses of two short epochs from the same seed."""
    torch.set_flush_denormal(flush)
    cfg, model, data, windows, empty = setup(case, torch.device("cpu"))
    run = type(cfg)(**{**cfg.__dict__, "epochs": 2, "epoch_size": 4 * case.batch})
    result = train.train(model, data, windows, windows, run, torch.device("cpu"), "32")
    return [epoch["train_loss"] for epoch in result.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    rows = []
    for cell, window, hidden in SIZES:
        case = Case(cell, window, hidden, 256)
        rates = {flush: rate(case, flush, args.repeats) for flush in (False, True)}
        off, on = losses(case, False), losses(case, True)
        row = {"cell": cell, "window": window, "hidden": hidden, "batch": 256,
               "off_windows_per_s": rates[False], "on_windows_per_s": rates[True],
               "speedup": rates[True] / rates[False], "losses_off": off, "losses_on": on,
               "largest_loss_difference": max(abs(a - b) for a, b in zip(off, on))}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    torch.set_flush_denormal(False)
    results = {"threads": torch.get_num_threads(), "rows": rows}
    lines = ["# Flushing denormals on the CPU (`python bench/denormals.py`)", "",
             f"forecastr's training loop, batch 256, {results['threads']} threads; windows per "
             "second with flushing off and on (medians), and the largest difference between "
             "the training losses of two short epochs from the same seed.", "",
             "| cell | window | hidden | off | on | speedup | loss difference |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['cell']} | {r['window']} | {r['hidden']} | {r['off_windows_per_s']:,.0f} | "
              f"{r['on_windows_per_s']:,.0f} | {r['speedup']:.2f} | "
              f"{r['largest_loss_difference']:.1e} |" for r in rows]
    report.save(args.out, "denormals", results, lines)


if __name__ == "__main__":
    main()
