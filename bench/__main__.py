"""forecastr's benchmark suite: `python -m bench` from the repository root.

Makes its own seeded data under bench/out/ (nothing is downloaded), measures training
throughput against a bare PyTorch loop, end-to-end fit, batch predict against pandas.read_csv,
reading a CSV against pandas.read_csv's C and pyarrow engines, start-up, memory scaling and
(when a GPU is there) CUDA throughput, and writes
bench/results/benchmarks.md and benchmarks.json. Figures are medians of several runs, and
every comparison is a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import report, sections

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(sections.ALL),
                        help="comma-separated sections to run [default: all]")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and smaller cases: a smoke run, not a report")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="folder for benchmarks.md and benchmarks.json")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "out",
                        help="folder for the generated data and models (reused)")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(sections.ALL)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {sections.ALL}")
    args.data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {"machine": report.machine(), "quick": args.quick, "sections": {}}
    context = sections.Context(args.data, args.quick)
    for name in chosen:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        section_start = time.perf_counter()
        section = sections.ALL[name](context)
        section["section_seconds"] = round(time.perf_counter() - section_start, 1)
        results["sections"][name] = section
        print(f"bench: {name} done in {section['section_seconds']} s", file=sys.stderr,
              flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "benchmarks.md").write_text(report.markdown(results))
    print(report.markdown(results))



if __name__ == "__main__":
    main()
