"""The benchmark suite's own plumbing (it is run by hand, never timed in tests): the phase
timings it reads from --verbose, the peak memory its children report, and the report."""

from __future__ import annotations

import json

from bench import report
from bench.processes import _phases, run
from forecastr.api import Clock


def test_phases_are_read_from_the_verbose_timings_lines():
    clock = Clock(seconds={"read": 1.25, "windows": 0.5})
    stderr = (f"forecastr: info: epoch 1/2 ...\nforecastr: info: timings: {clock}\n"
              f"forecastr: info: timings: writing 0.125 s\n")
    assert _phases(stderr) == {"read": 1.25, "windows": 0.5, "writing": 0.125}


def test_a_child_reports_its_own_peak_memory_and_output():
    child = run(["-c", "import json; print(json.dumps([1, 2]))"], forecastr=False)
    assert json.loads(child.stdout) == [1, 2]
    assert 1 < child.peak_mb < 200  # a bare interpreter, whatever this process holds


def test_the_report_renders_every_section():
    row = {"cell": "gru", "window": 48, "hidden": 64, "batch": 256,
           "forecastr_windows_per_s": 900.0, "bare_windows_per_s": 1000.0, "ratio": 0.9}
    results = {
        "machine": {"cpu": "test cpu", "cores": 2, "memory_gb": 4.0, "platform": "linux",
                    "python": "3.11", "torch": "2", "torch_threads": 2, "cuda": None},
        "quick": True, "seconds": 1.0,
        "sections": {
            "startup": {"seconds": {"python -c pass": 0.03, "forecastr --help": 0.1},
                        "help_over_python": 0.07, "target": "t", "met": True},
            "training": {"rows": [row], "target": "t", "worst_ratio": 0.9, "met": True},
            "fit": {"series": 10, "length": 100, "epochs": 2, "seconds": 3.0, "peak_mb": 300.0,
                    "runs": 2, "phases": {"read": 0.1}},
            "predict": {"series": 10, "length": 50, "runs": 2, "seconds": 2.0, "peak_mb": 250,
                        "time_limit": 3.0, "read_csv_seconds": 1.0, "time_met": True,
                        "memory_limit_mb": 800, "frame_mb": 100, "memory_met": True,
                        "phases": {"read": 0.5}},
            "memory": {"series_length": 1000, "fit": {"window 32, batch 256": {
                "seconds": 1.0, "peak_mb": 100.0}}, "fit_ratio_512_over_32": 1.1,
                "fit_ratio_512_over_32_batch_16": 1.0, "met": True,
                "predict": {10: {"seconds": 1.0, "peak_mb": 90.0}}, "predict_ratio": 1.2},
            "subdaily": {"rows": [{**row, "window": 336, "segment": 1, "batch": 32},
                                  {**row, "window": 336, "segment": 48, "batch": 32,
                                   "forecastr_windows_per_s": 9000.0}],
                         "speedups": {"gru 336 batch 32": 10.0},
                         "bare_speedups": {"gru 336 batch 32": 12.0}, "target": "t",
                         "worst_336": 10.0, "met": True},
            "streaming": {"chunk_series": 10, "length": 60, "ratio": 1.1, "target": "t",
                          "met": True, "in_memory": {"series": 100, "seconds": 2.0,
                                                     "peak_mb": 400.0},
                          "rows": {"100": {"mb": 1.0, "seconds": 2.5, "peak_mb": 380.0},
                                   "1000": {"mb": 10.0, "seconds": 9.0, "peak_mb": 420.0}}},
            "processes": {"series": 10, "length": 100, "speedup": 1.5, "rows": {
                "1": {"seconds": 9.0, "steps": 200, "windows_per_second": 1000.0,
                      "train_seconds": 5.0},
                "2": {"seconds": 8.0, "steps": 200, "windows_per_second": 1500.0,
                      "train_seconds": 3.3}}},
            "shard_series": {"series": 100, "length": 50, "csv_mb": 1.5, "ratio": 0.6,
                             "fixed_mb": 250.0, "data_ratio": 0.2, "rows": {
                "1 process": {"seconds": 5.0, "read_seconds": 1.0, "rank_peak_mb": [500.0]},
                "2 processes": {"seconds": 6.0, "read_seconds": 1.1,
                                "rank_peak_mb": [500.0, 490.0]},
                "2 processes, --shard-series": {"seconds": 7.0, "read_seconds": 2.0,
                                                "rank_peak_mb": [300.0, 290.0]}}},
            "cuda": {"skipped": "no CUDA device on this machine"}}}
    text = report.markdown(results)
    assert "| gru | 48 | 64 | 256 | 900 | 1,000 | 0.900 |" in text
    assert "worst ratio 0.900, **met**" in text
    assert "| wall time | 2.00 s | <= 3.00 s (2 x read_csv 1.00 s + 1 s) | **met** |" in text
    assert "Skipped: no CUDA device on this machine." in text
    assert "| 1,000 | 10 | 9.0 | 420 |" in text and "1.10, **met**" in text
    assert "| 2 | 200 | 1,500 | 3.3 | 8.0 |" in text and "against 1: 1.50x" in text
    assert "| gru | 336 | 48 | 32 | 9,000 | 1,000 |" in text
    assert "gru 336 batch 32: 10.0x (bare 12.0x)" in text and "worst 10.0x, **met**" in text
    assert "| 2 processes, --shard-series | 300 / 290 | 2.0 | 7.0 |" in text
    assert "with --shard-series against without: 0.60x; beyond the 250 MB" in text
    assert "the process group): 0.20x." in text


def test_a_distributed_fits_ranks_are_measured_each(tmp_path):
    from tests.conftest import SAMPLE_DATA

    measured = run(["fit", str(SAMPLE_DATA / "prison.csv.gz"), "-o", str(tmp_path / "m.fcst"),
                    "--hidden", "4", "--max-steps", "2", "--quiet", "--nproc", "2"])
    assert sorted(measured.rank_peak_mb) == [0, 1]
    assert all(100 < mb < measured.peak_mb * 20 for mb in measured.rank_peak_mb.values())


def test_the_training_section_runs_forecastr_and_the_bare_loop_on_the_library_as_it_is():
    # the library's training API changed twice under this section without a test noticing:
    # one step of each loop on a tiny case must run and change the weights
    import torch

    from bench import throughput

    case = throughput.Case(cell="gru", window=8, hidden=4, batch=4)
    cpu = torch.device("cpu")
    cfg, model, data, windows, empty = throughput.setup(case, cpu, series=2, length=40)
    before = [p.detach().clone() for p in model.parameters()]
    assert throughput.forecastr_rate(cfg, model, data, windows, empty, 1, cpu, "32") > 0
    assert throughput.bare_rate(cfg, model, case, 1, cpu, "32") > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_the_threads_section_and_study_render_their_verdicts():
    from bench.threads import render_section, render_study

    figure = {"seconds": 4.0, "forward_seconds": 0.1, "training_seconds": 3.0,
              "threads": "1 thread (default)", "runs": 3}
    figures = {f"{command}/{condition}/{variant}": figure
               for command in ("fit", "predict") for condition in ("idle", "busy")
               for variant in ("default", "per_core")}
    figures.update({"fit/one_cpu_mask/default": figure, "predict/one_cpu_mask/default": figure})
    figures["fit/busy/per_core"] = {**figure, "seconds": 20.0, "threads": "2 threads"}
    text = "\n".join(render_section({
        "figures": figures, "per_core": 2, "fit_busy_vs_idle": 1.05,
        "fit_target": "busy <= 1.3 x idle", "fit_met": True,
        "mask_threads": "1 thread (default)", "mask_met": True}))
    assert "| fit | busy | 4.00 (training 3.00) | 20.00 (training 3.00) | 1 thread (default) |" \
        in text
    assert "| predict | one cpu mask | 4.00 (forward 0.10) | - |" in text
    assert "1.05x its idle time (target busy <= 1.3 x idle): **met**" in text
    row = {"cell": "gru", "window": 36, "hidden": 64, "batch": 256,
           "windows_per_s": {"1": 3000, "2": 2500}, "one_vs_per_core": 1.2}
    study = "\n".join(render_study({
        "per_core": 2, "idle": [row], "busy": [{**row, "one_vs_per_core": 5.0}],
        "idle_worst_one_vs_per_core": 1.2, "idle_best_one_vs_per_core": 1.2,
        "busy_worst_one_vs_per_core": 5.0}))
    assert "| gru | 36 | 64 | 256 | 3,000 | 2,500 | 1.20 |" in study
    assert "Idle, one thread ran at 1.20x to 1.20x" in study


def test_the_reading_section_times_every_reader_and_renders_its_verdict():
    from bench.reading import medians, render_section
    from bench.sections import ALL

    assert "reading" in ALL
    calls = []
    seconds = medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3)
    assert calls == ["a", "b"] * 4 and set(seconds) == {"a", "b"}  # one round uncounted
    text = "\n".join(render_section({
        "series": 2000, "length": 500, "csv_mb": 36.8, "runs": 3, "load": [2.5, 3.0],
        "cores": 2, "ratio": 1.2, "met": True, "target": "read_panel <= 1.5 x pyarrow",
        "seconds": {"forecastr": 0.6, "forecastr_without_pyarrow": 1.5, "pandas_c": 0.3,
                    "pandas_c_to_datetime": 1.0, "pandas_pyarrow": 0.5}}))
    assert "2,000 hourly series x 500 points in long format (37 MB)" in text
    assert "| forecastr read_panel | 0.60 | 1.20 |" in text
    assert '| pandas.read_csv(engine="pyarrow") | 0.50 | 1.00 |' in text
    assert "load average 2.50 before, 3.00 after, on 2 cores" in text
    assert "(target read_panel <= 1.5 x pyarrow): **met**" in text


def test_every_way_of_running_an_ensembles_members_gives_the_loops_states():
    import torch

    from bench import ensembles

    rows = ensembles.encoder_rows(torch.device("cpu"), 0.0, batches=(4,), counts=(1, 3),
                                  window=5, hidden=3)
    assert [(r["cell"], r["members"]) for r in rows] == [
        ("gru", 1), ("gru", 3), ("lstm", 1), ("lstm", 3)]
    for row in rows:
        for way in ("loop", "wide", "bmm"):
            assert row[way]["largest_difference"] < 1e-6 and row[way]["ms"] > 0
    loop = [{"cell": "gru", "window": 36, "hidden": 64, "batch": 256, "members": m,
             "windows_per_s": rate} for m, rate in ((1, 3000.0), (3, 1000.0))]
    text = "\n".join(ensembles.render({"device": "cpu", "threads": 1, "loop": loop,
                                       "encoder": rows}))
    assert "| gru | 36 | 64 | 256 | 3 | 1,000 | 3.00x |" in text
    assert text.count("| lstm | 4 |") == 2
