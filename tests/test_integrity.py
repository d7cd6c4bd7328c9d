"""Model files that would exhaust the machine or load wrong: every stored value is checked
for its type and range, and every tensor for its layout, shape and finiteness, before a
network is built; refusing a crafted file costs no more than reading it."""

from __future__ import annotations

import copy
import io
import math
import resource
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecastr import api
from forecastr.config import FitConfig
from forecastr.errors import ForecastrError, ModelFileError
from forecastr.modelfile import artifact
from tests.conftest import run_cli, seasonal_frame

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# a GRU many-to-one with the highway (monthly, long layout) in today's format
CURRENT = FIXTURES / f"model-v{artifact.FORMAT_VERSION}.fcst"
DATA = FIXTURES / "series.csv"
CORRUPT = "corrupt model file ({}); fit the model again, or restore the file from a copy"


def payload(path: Path = CURRENT) -> dict[str, Any]:
    return torch.load(path, weights_only=True)


def saved(folder: Path, content: dict[str, Any], name: str = "crafted.fcst") -> Path:
    torch.save(content, folder / name)
    return folder / name


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    content = copy.deepcopy(payload())
    change(content)
    return content


def first_weight(content: dict[str, Any]) -> str:
    return next(iter(content["state_dict"]))


# the probe's cases, each refused in one line (exit 2) naming what is wrong
CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "window of 10^9": (lambda p: p["config"].update(window=10**9),
                       "--window must be at most 100,000, got 1,000,000,000"),
    "10^6 layers": (lambda p: p["config"].update(layers=10**6),
                    "config asks for 1 x 1000000 layers, but the file holds 8 weights"),
    "hidden of 10^8": (lambda p: p["config"].update(hidden=10**8),
                       "weight 'nets.0.encoder.weight_ih_l0' has shape (12, 4), not "
                       "(300000000, 4)"),
    "horizon of 10^9": (lambda p: p["config"].update(horizon=10**9),
                        "--horizon must be at most 100,000, got 1,000,000,000"),
    "negative horizon": (lambda p: p["config"].update(horizon=-3),
                         "--horizon must be at least 1, got -3"),
    "window left unset": (lambda p: p["config"].update(window=None),
                          "config.window and config.horizon are not both set"),
    "ids of the wrong type": (lambda p: p["series"].update(ids=[1, 2]),
                              "series.ids is not a list of text values"),
    "short scaling tensor": (lambda p: p["scaling"].update(loc=p["scaling"]["loc"][:1]),
                             "scaling.loc has shape (1, 1), not (2, 1)"),
    "stride-0 scaling tensor": (
        lambda p: p["scaling"].update(scale=torch.ones(1, 1, dtype=torch.float64).expand(2, 1)),
        "scaling.scale is not laid out as a plain array of its values"),
    "NaN weight": (lambda p: p["state_dict"][first_weight(p)].fill_(math.nan),
                   "weight 'nets.0.encoder.weight_ih_l0' holds NaN or infinite values"),
    "infinite statistics": (lambda p: p["scaling"]["loc"].fill_(math.inf),
                            "scaling.loc holds NaN or infinite values"),
    "unknown scaling kind": (lambda p: p["scaling"].update(kind="zscore"),
                             "scaling.kind is 'zscore', not one of standard, minmax, none, "
                             "window"),
    "scaling kind not the config's": (lambda p: p["scaling"].update(kind="standard"),
                                      "scaling.kind is 'standard' but config.scaler is "
                                      "'window'"),
    "unknown calendar feature": (lambda p: p.update(calendar=["moon"]),
                                 "calendar names an unknown or repeated feature (the features "
                                 "are hour, weekday, week, month, quarter)"),
    "frequency pandas does not know": (lambda p: p["schema"].update(freq="XYZ"),
                                       "schema.freq is 'XYZ', not a pandas frequency"),
    "integer step of 0": (lambda p: p["schema"].update(step=0),
                          "schema.step is 0, not a positive integer"),
    "training summary not a table": (lambda p: p.update(training=[1]),
                                     "training is a list, not a table"),
    "integer weights": (lambda p: p["state_dict"].update(
        {first_weight(p): torch.zeros(12, 4, dtype=torch.int64)}),
        "weight 'nets.0.encoder.weight_ih_l0' is a Tensor, not a tensor of floats"),
    "two series of one id": (lambda p: p["series"].update(ids=["a", "a"]),
                             "series.ids names a series twice"),
    "quantiles the weights do not have": (lambda p: p["config"].update(quantiles=[0.1, 0.9]),
                                          "dimensions.n_quantiles is 1, but the schema and "
                                          "configuration make it 3"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_values_are_one_line_model_file_errors(case, tmp_path):
    change, reason = CASES[case]
    path = saved(tmp_path, mutated(change))
    for command in (["info", str(path)], ["predict", str(path), str(DATA)]):
        result = run_cli(command)
        assert result.exit_code == 2, result.stderr
        assert result.stdout == ""
        assert result.stderr == f"forecastr: error: {path}: {CORRUPT.format(reason)}\n"


def shared_record_archive(folder: Path, entries: int, size: int) -> Path:
    """The v3 model file plus `entries` central-directory entries that all point at one
    record of `size` bytes: a small file that reads as entries x size bytes."""
    original = zipfile.ZipFile(CURRENT)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for info in original.infolist():
            archive.writestr(info, original.read(info))
        archive.writestr("model-v3/big", bytes(size))
    raw = buffer.getvalue()
    end = raw.rfind(b"PK\x05\x06")
    directory_size, directory_at = struct.unpack("<II", raw[end + 12:end + 20])
    directory = raw[directory_at:directory_at + directory_size]
    big = directory[directory.rfind(b"PK\x01\x02"):]  # the last entry: the big record's
    count = struct.unpack("<H", raw[end + 10:end + 12])[0] + entries
    record = bytearray(raw[end:end + 22])
    struct.pack_into("<HHI", record, 8, count, count, directory_size + entries * len(big))
    path = folder / "shared.fcst"
    path.write_bytes(raw[:directory_at] + directory + big * entries + bytes(record))
    return path


def test_archive_entries_that_share_a_record_are_refused_without_reading_them(tmp_path):
    path = shared_record_archive(tmp_path, entries=200, size=1_000_000)
    with pytest.raises(ModelFileError, match="not a forecastr model file, or truncated or "
                                             "corrupt"):
        api.info(path)


def test_a_compressed_record_is_refused(tmp_path):
    original = zipfile.ZipFile(CURRENT)
    path = tmp_path / "deflated.fcst"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in original.infolist():
            archive.writestr(info.filename, original.read(info))
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        api.info(path)


def test_window_and_horizon_are_bounded_for_fit_too(tmp_path):
    with pytest.raises(ForecastrError, match="--window must be at most 100,000, got 100,001"):
        FitConfig(window=100_001)
    result = run_cli(["fit", str(DATA), "-o", str(tmp_path / "m.fcst"), "--horizon", "200000"])
    assert result.exit_code == 2
    assert result.stderr == "forecastr: error: --horizon must be at most 100,000, got 200,000\n"


# --- every stored value, mutated ---------------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[Path, Path, Any]]:
    """Three models unlike each other, with their data and forecast: the committed fixture of
    today's format;
    a bidirectional two-layer LSTM many-to-many with conformal intervals and no highway (so
    that no weight fixes its window); and an ensemble of relu RNNs with quantiles, quantile
    intervals and per-series scaling, on a wide file with integer times."""
    folder = tmp_path_factory.mktemp("models")
    long, wide = folder / "long.csv", folder / "wide.csv"
    frame = seasonal_frame(n_series=2, length=48)
    frame.to_csv(long, index=False)
    columns = frame.pivot(index="ds", columns="unique_id", values="y").reset_index(drop=True)
    columns.insert(0, "t", range(100, 100 + 5 * len(columns), 5))
    columns.to_csv(wide, index=False)
    lstm, rnn = folder / "lstm.fcst", folder / "rnn.fcst"
    api.fit(long, FitConfig(cell="lstm", mode="many-to-many", layers=2, bidirectional=True,
                            hidden=4, window=12, horizon=3, highway=False, max_steps=2,
                            intervals=(80.0,), interval_method="conformal", val_windows=5,
                            batch_size=8, seed=1), lstm)
    api.fit(wide, FitConfig(cell="rnn", nonlinearity="relu", scaler="standard", hidden=4,
                            window=8, horizon=3, highway=True, max_steps=2, ensemble=3,
                            quantiles=(0.1, 0.9), intervals=(80.0,), batch_size=8), rnn)
    return {name: (model, source, api.predict(model, source, device_spec="cpu"))
            for name, model, source in (("v3", CURRENT, DATA), ("lstm", lstm, long),
                                        ("rnn", rnn, wide))}


def leaves(content: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every value of a payload: table entries, list items, tensors."""
    if isinstance(content, dict) and path[:1] != ("training",) or path == ():
        found = [path] if path else []
        for key, value in content.items():
            if path or key not in ("format", "format_version"):  # container.read's own checks
                found += leaves(value, (*path, key))
        return found
    if isinstance(content, list):
        return [path, *[(*path, i) for i in range(len(content))]]
    return [path]


HOSTILE = [None, True, False, -1, 0, 2**31, 2**63, 10**18, -(10**18), 1.5, -0.5, math.nan,
           math.inf, -math.inf, "", "x", "[/bold]", [], {}, ["x"], [1], {"x": 1}]
TENSOR_DAMAGE: list[Callable[[torch.Tensor], torch.Tensor]] = [
    lambda t: t.reshape(-1)[:1].clone(),  # too short
    lambda t: t.unsqueeze(0).clone(),  # a dimension too many
    lambda t: torch.full_like(t, math.nan),
    lambda t: torch.full_like(t, math.inf),
    lambda t: t.reshape(-1)[:1].expand(t.shape) if t.numel() else t,  # stride 0
    lambda t: t.to(torch.int64),
    lambda t: t.new_empty((0,)),
    lambda t: torch.stack([t, t], -1)[..., 0],  # the same values, not laid out in a row
    lambda t: torch.zeros(10**6),  # a large tensor where a small one belongs
]
DELETE = object()
# values whose every valid setting is another model that nothing in the file contradicts:
# the names of the quantile and interval outputs, and which stored statistics belong to
# which series (a renamed series is a new one, scaled on its own history)
READ_AS_GIVEN = {("config", "quantiles"), ("config", "intervals"), ("series", "ids")}


def apply(content: dict[str, Any], path: tuple, damage: Any) -> None:
    *parents, last = path
    holder = content
    for key in parents:
        holder = holder[key]
    if damage is DELETE:
        del holder[last]
    elif callable(damage):
        holder[last] = damage(holder[last]) if isinstance(holder[last], torch.Tensor) \
            else damage(torch.ones(3))
    else:
        holder[last] = damage


def bounded_memory(extra: int) -> Callable[[], None]:
    """Cap this process's address space at what it uses now plus `extra` bytes, so that an
    allocation a crafted file asks for fails instead of swapping; returns the undo."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = int(Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + extra, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutated_value_is_refused_in_one_line_or_changes_nothing(models, tmp_path, data):
    name = data.draw(st.sampled_from(sorted(models)), label="model")
    model, source, before = models[name]
    content = payload(model)
    path = data.draw(st.sampled_from(leaves(content)), label="path")
    damage = data.draw(st.sampled_from([*HOSTILE, *TENSOR_DAMAGE, DELETE]), label="damage")
    apply(content, path, damage)
    crafted = saved(tmp_path, content)
    undo = bounded_memory(2 * 2**30)  # a crafted file may not make forecastr take 2 GiB more
    try:
        after = api.predict(crafted, source, device_spec="cpu")
    except ForecastrError as exc:
        assert exc.exit_code == 2 and "\n" not in str(exc), str(exc)
        return
    finally:
        undo()
    same_rows = after.select_dtypes(exclude="floating"), before.select_dtypes(exclude="floating")
    assert same_rows[0].equals(same_rows[1])  # the same series and times, if not the values
    assert np.isfinite(after.select_dtypes("number").to_numpy()).all()
    if path[:2] in READ_AS_GIVEN:
        return
    # otherwise only a value the forecast does not read was changed, or one that gives an
    # equal one (e.g. a config key left unset that the weights settle anyway)
    assert list(after.columns) == list(before.columns)
    np.testing.assert_array_equal(after.to_numpy(), before.to_numpy())


def test_the_mutation_test_reaches_every_part_of_the_file(models):
    for model, _, _ in models.values():
        tops = {path[0] for path in leaves(payload(model))}
        assert tops >= {"config", "schema", "dimensions", "calendar", "scaling", "series",
                        "state_dict", "training", "versions"}

