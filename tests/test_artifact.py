"""The model file: round trip, atomic writes, and refusal of anything that is not one of ours,
above all a pickle whose payload would run code."""

from __future__ import annotations

import dataclasses
import os
import pickle

import pytest
import torch

from forecastr import api, artifact
from forecastr.artifact import build_model, load, save
from forecastr.config import FitConfig
from forecastr.errors import ModelFileError, OutputError
from forecastr.writer import atomic_write

TINY = FitConfig(hidden=8, layers=1, epochs=1, batch_size=64, window=12, horizon=4,
                 val_windows=1, calendar=True)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    from tests.conftest import seasonal_frame

    data = folder / "long.csv"
    seasonal_frame().to_csv(data, index=False)
    path = folder / "long.fcst"
    api.fit(data, TINY, path)
    return path


def test_round_trip_keeps_everything(fitted, tmp_path):
    loaded = load(fitted)
    # the choices that were left to the data (highway for monthly data) are recorded
    assert loaded.config == dataclasses.replace(TINY, highway=True)
    assert (loaded.window, loaded.horizon) == (12, 4)
    assert loaded.schema.layout == "long" and loaded.schema.freq == "MS"
    assert loaded.calendar == ("month",)
    assert loaded.series["ids"] == ["s0", "s1", "s2"]
    assert loaded.series["last_times"][0] == "2004-12-01 00:00:00"
    assert loaded.versions["torch"] == str(torch.__version__)
    again = tmp_path / "again.fcst"
    save(again, loaded)
    reloaded = load(again)
    assert dataclasses.asdict(reloaded.config) == dataclasses.asdict(loaded.config)
    assert all(torch.equal(loaded.state_dict[k], reloaded.state_dict[k])
               for k in loaded.state_dict)
    x = torch.randn(2, 12, loaded.dimensions.n_inputs)
    calendar = torch.randn(2, 4, loaded.dimensions.n_calendar)
    torch.testing.assert_close(build_model(loaded)(x, calendar), build_model(reloaded)(x, calendar))


class Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.fcst"
    torch.save({"format": "forecastr-model", "format_version": 1, "x": Payload(str(marker))},
               path)
    with pytest.raises(ModelFileError, match="refused: the file holds Python objects"):
        load(path)
    assert not marker.exists()
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(ModelFileError):
        load(plain)
    assert not marker.exists()


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated or corrupt"),
    (lambda b: b[:100], "truncated or corrupt"),
    (lambda b: b"", "truncated or corrupt"),
    (lambda b: b"month,sales\n2020-01-01,3\n", "not a forecastr model file"),
    (lambda b: bytes(range(256)) * 8, "not a forecastr model file"),
])
def test_damaged_files_are_one_line_errors(fitted, tmp_path, damage, message):
    path = tmp_path / "damaged.fcst"
    path.write_bytes(damage(fitted.read_bytes()))
    with pytest.raises(ModelFileError) as err:
        load(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    assert message in str(err.value) or "not a forecastr model file" in str(err.value)


def test_foreign_and_future_files(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a forecastr model file"):
        load(other)
    future = tmp_path / "future.fcst"
    torch.save({"format": "forecastr-model", "format_version": artifact.FORMAT_VERSION + 1},
               future)
    with pytest.raises(ModelFileError, match="newer forecastr .model format 2; this one reads "
                                             "up to 1.; upgrade forecastr"):
        load(future)
    partial = tmp_path / "partial.fcst"
    torch.save({"format": "forecastr-model", "format_version": 1, "config": {}}, partial)
    with pytest.raises(ModelFileError, match="corrupt model file: no 'window' entry"):
        load(partial)
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "missing.fcst")
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_nan_weights_are_never_written(fitted, tmp_path):
    loaded = load(fitted)
    broken = dict(loaded.state_dict)
    name = next(iter(broken))
    broken[name] = torch.full_like(broken[name], float("nan"))
    path = tmp_path / "nan.fcst"
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        save(path, dataclasses.replace(loaded, state_dict=broken))
    assert not path.exists()


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "model.fcst"
    path.write_bytes(b"old and complete")
    with pytest.raises(RuntimeError), atomic_write(path) as stream:
        stream.write(b"new but half")
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old and complete"
    assert os.listdir(tmp_path) == ["model.fcst"]  # no temporary file left behind
    with atomic_write(path) as stream:
        stream.write(b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["model.fcst"]


def test_unwritable_output_fails_before_training(tmp_path, long_csv):
    with pytest.raises(OutputError, match="does not exist"):
        api.fit(long_csv, TINY, tmp_path / "no" / "such" / "model.fcst")
    with pytest.raises(OutputError, match="is a directory"):
        api.fit(long_csv, TINY, tmp_path)
