"""The benchmark report: the machine it ran on, and the results as a markdown document."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from bench.reading import render_section as render_reading
from bench.threads import render_section as render_threads


def save(out: Path, stem: str, results: Any, lines: list[str]) -> None:
    """A study's results as out/STEM.json and its table as out/STEM.md, shown on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb,
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = ["# forecastr benchmarks", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, "
             f"{m['platform']}; Python {m['python']}, torch {m['torch']} "
             f"({m['torch_threads']} threads); GPU: {m['cuda'] or 'none'}.",
             f"Whole suite: {results['seconds']} s" + (" (quick run)" if results["quick"]
                                                        else "") + ".", ""]
    for name, section in results["sections"].items():
        lines += [f"## {name}", "", *RENDER[name](section), ""]
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def _training(s: dict) -> list[str]:
    rows = ["| cell | window | hidden | batch | forecastr windows/s | bare windows/s | ratio |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {r['cell']} | {r['window']} | {r['hidden']} | {r['batch']} | "
             f"{r['forecastr_windows_per_s']:,.0f} | {r['bare_windows_per_s']:,.0f} | "
             f"{r['ratio']:.3f} |" for r in s["rows"]]
    return rows + ["", f"Target {s['target']}: worst ratio {s['worst_ratio']:.3f}, "
                   f"{_verdict(s['met'])}. Medians of interleaved runs in one process."]


def _subdaily(s: dict) -> list[str]:
    rows = ["| cell | window | segment | batch | forecastr windows/s | bare windows/s |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {r['cell']} | {r['window']} | {r['segment']} | {r['batch']} | "
             f"{r['forecastr_windows_per_s']:,.0f} | {r['bare_windows_per_s']:,.0f} |"
             for r in s["rows"]]
    bare = s.get("bare_speedups", {})
    shown = ", ".join(f"{k}: {v:.1f}x" + (f" (bare {bare[k]:.1f}x)" if k in bare else "")
                      for k, v in s["speedups"].items())
    worst = "n/a" if s["worst_336"] is None else f"{s['worst_336']:.1f}x"
    return rows + ["", f"Segments against step by step, forecastr's loop (the bare loop's): "
                   f"{shown}.", "", f"Target {s['target']}: worst {worst}, "
                   f"{_verdict(s['met'])}."]


def _phases(phases: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())


def _fit(s: dict) -> list[str]:
    return [f"`forecastr fit` on {s['series']:,} series x {s['length']:,} hourly points, "
            f"{s['epochs']} epochs, default options: **{s['seconds']:.1f} s** wall, peak "
            f"{s['peak_mb']:,.0f} MB (median of {s['runs']} runs).", "",
            f"Phases: {_phases(s['phases'])}; the rest is start-up (imports)."]


def _default_fit(s: dict) -> list[str]:
    return [f"`forecastr fit` with every default on {s['series']:,} monthly series x "
            f"{s['length']} points: **{s['seconds']:.1f} s** wall, peak {s['peak_mb']:,.0f} MB "
            f"(median of {s['runs']} runs); {s['steps']:,} steps in {s['epochs_run']} epochs "
            f"over {s['train_windows']:,} training windows, stopped by {s['stopped']}, "
            f"{s['windows_per_second']:,.0f} windows/s. Target {s['target']}: "
            f"{_verdict(s['met'])}.", "", f"Phases: {_phases(s['phases'])}."]


def _predict(s: dict) -> list[str]:
    return [f"`forecastr predict` on {s['series']:,} series x {s['length']} points "
            f"(median of {s['runs']} runs):", "",
            "| measure | value | target | verdict |", "|---|---|---|---|",
            f"| wall time | {s['seconds']:.2f} s | <= {s['time_limit']:.2f} s (2 x read_csv "
            f"{s['read_csv_seconds']:.2f} s + 1 s) | {_verdict(s['time_met'])} |",
            *([f"| wall time | {s['seconds']:.2f} s | <= {s['overhead_limit']:.2f} s (read "
               f"{s['phases']['read']:.2f} s + forward {s['phases']['forward']:.2f} s + 2.5 s)"
               f" | {_verdict(s['overhead_met'])} |"] if "overhead_limit" in s else []),
            f"| peak memory | {s['peak_mb']:,.0f} MB | <= {s['memory_limit_mb']:,.0f} MB "
            f"(3 x frame {s['frame_mb']:,.0f} MB + 500 MB) | {_verdict(s['memory_met'])} |",
            "", f"Phases: {_phases(s['phases'])}; the rest is start-up (imports) and "
            f"loading the model."]


def _startup(s: dict) -> list[str]:
    rows = ["| command | seconds |", "|---|---|"]
    rows += [f"| `{name}` | {seconds:.3f} |" for name, seconds in s["seconds"].items()]
    return rows + ["", f"`--help` costs {s['help_over_python']:.3f} s more than Python "
                   f"itself; target {s['target']}: {_verdict(s['met'])}."]


def _memory(s: dict) -> list[str]:
    rows = ["| run | wall s | peak MB |", "|---|---|---|"]
    rows += [f"| fit, 1 epoch, {s['series_length']:,}-point series, {name} | "
             f"{r['seconds']:.1f} | {r['peak_mb']:,.0f} |" for name, r in s["fit"].items()]
    rows += [f"| predict, {n:,} series x 60 points | {r['seconds']:.1f} | "
             f"{r['peak_mb']:,.0f} |" for n, r in s["predict"].items()]
    return rows + ["", f"Fit peak at window 512 / window 32: {s['fit_ratio_512_over_32']:.2f} "
                   f"at batch 256 (target <= 1.2: {_verdict(s['met'])}), "
                   f"{s['fit_ratio_512_over_32_batch_16']:.2f} at batch 16; predict peak at "
                   f"the larger / smaller panel: {s['predict_ratio']:.2f}."]


def _streaming(s: dict) -> list[str]:
    rows = ["| series x 60 points | CSV MB | wall s | peak MB |", "|---|---|---|---|"]
    rows += [f"| {int(n):,} | {r['mb']:,.0f} | {r['seconds']:.1f} | {r['peak_mb']:,.0f} |"
             for n, r in s["rows"].items()]
    whole = s["in_memory"]
    return rows + ["", f"`--chunk-series {s['chunk_series']:,}`; without it the "
                   f"{whole['series']:,} series took {whole['seconds']:.1f} s and "
                   f"{whole['peak_mb']:,.0f} MB. Target {s['target']}: {s['ratio']:.2f}, "
                   f"{_verdict(s['met'])}."]


def _processes(s: dict) -> list[str]:
    rows = ["| processes | steps | windows/s in training | training s | wall s |",
            "|---|---|---|---|---|"]
    rows += [f"| {int(n)} | {r['steps']} | {r['windows_per_second']:,.0f} | "
             f"{r['train_seconds']:.1f} | {r['seconds']:.1f} |" for n, r in s["rows"].items()]
    return rows + ["", f"{s['series']:,} series x {s['length']:,} points; 2 processes "
                   f"against 1: {s['speedup']:.2f}x."]


def _shard_series(s: dict) -> list[str]:
    rows = ["| run | peak MB of each process | read s (rank 0) | wall s |", "|---|---|---|---|"]
    rows += [f"| {name} | {' / '.join(f'{mb:,.0f}' for mb in r['rank_peak_mb'])} | "
             f"{r['read_seconds'] or float('nan'):.1f} | {r['seconds']:.1f} |"
             for name, r in s["rows"].items()]
    return rows + ["", f"{s['series']:,} series x {s['length']:,} points ({s['csv_mb']:,.0f} MB "
                   f"of CSV); the largest process with --shard-series against without: "
                   f"{s['ratio']:.2f}x; beyond the {s['fixed_mb']:,.0f} MB a process holds "
                   f"on 10 series (torch, pandas, the process group): {s['data_ratio']:.2f}x."]


def _cuda(s: dict) -> list[str]:
    if "skipped" in s:
        return [f"Skipped: {s['skipped']}."]
    rows = ["| batch | precision | forecastr windows/s | bare windows/s | ratio |",
            "|---|---|---|---|---|"]
    rows += [f"| {r['batch']} | {r['precision']} | {r['forecastr_windows_per_s']:,.0f} | "
             f"{r['bare_windows_per_s']:,.0f} | {r['ratio']:.3f} |" for r in s["rows"]]
    return rows + ["", f"On {s['device']}: worst ratio {s['worst_ratio']:.3f}; bf16 faster "
                   f"than fp32 at both batch sizes: {s['bf16_faster']}."]


RENDER = {"training": _training, "subdaily": _subdaily, "fit": _fit,
          "default_fit": _default_fit,
          "predict": _predict, "reading": render_reading, "startup": _startup,
          "memory": _memory, "streaming": _streaming, "processes": _processes,
          "shard_series": _shard_series, "threads": render_threads,
          "cuda": _cuda}
