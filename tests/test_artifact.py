"""The model file: round trip, files of older formats still read (committed fixtures), atomic
writes, and refusal of anything that is not one of ours: truncated, damaged, foreign, newer,
and above all a pickle whose payload would run code."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import shlex
import struct
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data.writer import atomic_write
from forecastr.errors import ModelFileError
from forecastr.modelfile import artifact
from forecastr.modelfile.artifact import build_model, load, save
from forecastr.modelfile.container import read
from forecastr.training.checkpoint import CHECKPOINT
from tests.conftest import run_cli

TINY = FitConfig(hidden=8, layers=1, epochs=1, batch_size=64, window=12, horizon=4,
                 val_windows=1, calendar=True)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1 = FIXTURES / "model-v1.fcst"  # committed; its bytes, and so the offsets below, never change
REMEDY = "; fit the model again, or restore the file from a copy"
MODEL_WANTED = "; give the .fcst file that forecastr fit wrote"
CORRUPT = "not a forecastr model file, or truncated or corrupt" + REMEDY
NOT_OURS = "not a forecastr model file; give the .fcst file that forecastr fit wrote"
REFUSED = ("refused: the file holds Python objects that could run code when loaded; "
           "a forecastr model file never does")


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
    # the choices that were left to the data (highway, step by step, the seasonal-naive
    # baseline and the Huber loss for monthly data) are recorded
    assert loaded.config == dataclasses.replace(TINY, highway=True, segment=1,
                                                baseline="seasonal-naive", loss="huber")
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


@pytest.mark.parametrize("cell, mode", [("rnn", "many-to-one"), ("lstm", "many-to-many"),
                                        ("gru", "many-to-one")])
def test_a_segment_wise_model_is_saved_and_loaded_like_any_model(tmp_path, cell, mode):
    from tests.conftest import seasonal_frame

    data = tmp_path / "long.csv"
    seasonal_frame().to_csv(data, index=False)
    cfg = dataclasses.replace(TINY, cell=cell, mode=mode, segment=5)  # 12 = 3 x 5 - 3
    fitted = api.fit(data, cfg, tmp_path / "m.fcst").artifact
    loaded = load(tmp_path / "m.fcst")
    assert loaded.config.segment == 5 and "nets.0.segments.weight" in loaded.state_dict
    assert loaded.state_dict["nets.0.segments.weight"].shape == (8, 5 * loaded.dimensions.n_inputs)
    first = api.predict(tmp_path / "m.fcst", data, device_spec="cpu")
    assert first.equals(api.predict(tmp_path / "m.fcst", data, device_spec="cpu"))
    x = torch.randn(2, 12, loaded.dimensions.n_inputs)
    torch.testing.assert_close(build_model(loaded)(x), build_model(fitted)(x))


def test_old_format_fixtures_load_and_forecast_as_they_did():
    fixtures = sorted(FIXTURES.glob("model-v*.fcst"))
    assert V1 in fixtures  # and one of every later format, the current one included
    assert {int(p.stem.split("-v")[1]) for p in fixtures} == \
        set(range(1, artifact.FORMAT_VERSION + 1))
    for path in fixtures:
        golden = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert golden["format_version"] >= artifact.oldest_readable()
        # windows were scaled without a floor before format 3, and still are for such files
        assert load(path).scaling.floor == (0.1 if golden["format_version"] >= 3 else 0.0)
        frame = api.predict(path, FIXTURES / golden["data"], device_spec="cpu")
        assert list(frame.columns) == golden["columns"] == ["unique_id", "ds", "y"]
        ids, times, values = zip(*golden["rows"])
        assert list(frame["unique_id"]) == list(ids)
        assert list(frame["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S")) == list(times)
        np.testing.assert_allclose(frame["y"].to_numpy(), values, rtol=0, atol=1e-6)


def test_a_newer_reader_upgrades_old_files_step_by_step(monkeypatch):
    steps = []

    def step(version: int):  # the real upgrade of that version, if any, and a record of it
        real = artifact.UPGRADES.get(version, lambda payload: payload)

        def upgrade(payload: dict) -> dict:
            assert payload["format_version"] == version
            steps.append(version)
            payload = real(payload)
            return {**payload, "training": {**payload["training"], "upgraded": steps[:]}}
        return upgrade

    newest = artifact.FORMAT_VERSION + 1
    monkeypatch.setattr(artifact, "FORMAT_VERSION", newest)
    monkeypatch.setattr(artifact, "UPGRADES", {v: step(v) for v in range(1, newest)})
    assert artifact.oldest_readable() == 1
    upgraded = load(V1)
    assert steps == list(range(1, newest)) and upgraded.training["upgraded"] == steps
    monkeypatch.undo()
    original = load(V1)
    assert "upgraded" not in original.training
    x = torch.randn(2, original.window, original.dimensions.n_inputs)
    calendar = torch.randn(2, original.horizon, original.dimensions.n_calendar)
    torch.testing.assert_close(build_model(upgraded)(x, calendar),
                               build_model(original)(x, calendar), rtol=0, atol=0)


def test_files_older_than_the_upgrades_reach_are_named_too_old(monkeypatch):
    monkeypatch.setattr(artifact, "FORMAT_VERSION", 3)
    monkeypatch.setattr(artifact, "UPGRADES", {2: lambda payload: payload})
    with pytest.raises(ModelFileError) as err:
        load(V1)
    assert str(err.value) == (f"{V1}: model file format 1 is too old (this forecastr reads 2 "
                              f"to 3); refit the model")
    monkeypatch.setattr(artifact, "UPGRADES", {1: lambda payload: {}, 2: lambda payload: payload})
    with pytest.raises(ModelFileError, match="corrupt model file: no 'config' entry"):
        load(V1)  # an old file that an upgrade cannot make sense of


def test_the_container_names_the_kind_of_file_it_expected(tmp_path):
    path = tmp_path / "run.ckpt"
    torch.save({"format": "forecastr-checkpoint", "format_version": 3}, path)
    payload = read(path, CHECKPOINT, 3)
    assert payload == {"format": "forecastr-checkpoint", "format_version": 3}
    for newest, oldest, message in [
        (2, 1, ("written by a newer forecastr (checkpoint format 3; this one reads up to 2); "
                "upgrade forecastr")),
        (5, 4, "checkpoint format 3 is too old (this forecastr reads 4 to 5); run without "
               "--resume to start over"),
    ]:
        with pytest.raises(ModelFileError) as err:
            read(path, CHECKPOINT, newest, oldest)
        assert str(err.value) == f"{path}: {message}"
    with pytest.raises(ModelFileError) as err:
        read(V1, CHECKPOINT, 1)
    assert str(err.value) == (f"{V1}: not a forecastr checkpoint but a forecastr model; give "
                              f"the checkpoint (MODEL.fcst.ckpt) that an interrupted forecastr "
                              f"fit wrote")
    with pytest.raises(ModelFileError) as err:
        load(path)
    assert str(err.value) == (f"{path}: not a forecastr model file but a forecastr "
                              f"checkpoint{MODEL_WANTED}")


class OpenGadget:
    """Unpickling any of these gadgets would create the marker file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class TouchGadget(OpenGadget):
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


class ShellGadget(OpenGadget):
    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def record_start(raw: bytes, name: str) -> int:
    """Offset of the first byte of a zip record's contents (after its local header)."""
    header = raw.index(name.encode()) - 30  # local headers come first, then the directory
    name_length, extra_length = struct.unpack("<HH", raw[header + 26:header + 30])
    return header + 30 + name_length + extra_length


def central_entry(raw: bytes, name: str) -> int:
    """Offset of a record's entry in the zip's central directory."""
    return raw.index(name.encode(), raw.index(b"PK\x01\x02")) - 46


def flip(offset: Callable[[bytes], int], mask: int = 0x10) -> Callable[[bytes], bytes]:
    def damage(raw: bytes) -> bytes:
        at = offset(raw)
        return raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1:]
    return damage


def overwrite(offset: Callable[[bytes], int], junk: bytes) -> Callable[[bytes], bytes]:
    def damage(raw: bytes) -> bytes:
        at = offset(raw)
        return raw[:at] + junk + raw[at + len(junk):]
    return damage


TRUNCATIONS = [(1, NOT_OURS), (10, CORRUPT), (22, CORRUPT),
               (760, CORRUPT), (1521, CORRUPT), (3042, CORRUPT), (4563, CORRUPT),
               (5985, CORRUPT), (6063, CORRUPT), (6084, CORRUPT)]  # of V1's 6085 bytes
DAMAGE = {
    "pickle opcode flipped": flip(lambda raw: record_start(raw, "archive/data.pkl") + 40),
    "stored string flipped": flip(lambda raw: raw.index(b"forecastr-model") + 3),
    "weight bit flipped": flip(lambda raw: record_start(raw, "archive/data/2") + 100, 0x01),
    "weights zeroed": overwrite(lambda raw: record_start(raw, "archive/data/3"), bytes(64)),
    "pickle overwritten": overwrite(lambda raw: record_start(raw, "archive/data.pkl") + 200,
                                    b"\xff" * 16),
    # the MS-DOS directory bit: torch alone would then read a weight from uninitialised memory
    "record marked as folder": flip(lambda raw: central_entry(raw, "archive/data/2") + 38),
    # torch writes zip64 end records, which both readers trust over the classic one
    "central directory offset": flip(lambda raw: raw.rindex(b"PK\x06\x06") + 48, 0x01),
}


def torch_saved(obj: object) -> Callable[[Path], bytes]:
    def make(folder: Path) -> bytes:
        torch.save(obj, folder / "saved")
        return (folder / "saved").read_bytes()
    return make


def plain_zip(folder: Path) -> bytes:
    with zipfile.ZipFile(folder / "other.zip", "w") as archive:
        archive.writestr("notes.txt", "hello")
        archive.writestr("data.csv", "a,b\n1,2\n")
    return (folder / "other.zip").read_bytes()


MARKER = "pwned"
HOSTILE: dict[str, tuple[Callable[[Path], bytes | None], str]] = {
    **{f"truncated at {n}": (lambda _, n=n: V1.read_bytes()[:n], message)
       for n, message in TRUNCATIONS},
    **{name: (lambda _, damage=damage: damage(V1.read_bytes()), CORRUPT)
       for name, damage in DAMAGE.items()},
    "csv text": (lambda _: b"month,sales\n2020-01-01,3\n", NOT_OURS),
    "empty": (lambda _: b"", CORRUPT),
    "random bytes": (lambda _: np.random.default_rng(0).bytes(4096),
                     NOT_OURS),
    "torch list": (torch_saved([1, 2, 3]), NOT_OURS),
    "torch dict without format": (torch_saved({"weights": torch.zeros(3)}),
                                  NOT_OURS),
    "plain zip": (plain_zip, CORRUPT),
    "newer format": (torch_saved({"format": "forecastr-model",
                                  "format_version": artifact.FORMAT_VERSION + 1}),
                     (f"written by a newer forecastr (model file format "
                      f"{artifact.FORMAT_VERSION + 1}; this one reads up to "
                      f"{artifact.FORMAT_VERSION}); upgrade forecastr")),
    "format 0": (torch_saved({"format": "forecastr-model", "format_version": 0}),
                 f"model file format 0 is too old (this forecastr reads 1 to "
                 f"{artifact.FORMAT_VERSION}); refit the model"),
    "version not a number": (torch_saved({"format": "forecastr-model", "format_version": "1"}),
                             "corrupt model file: format version '1'" + REMEDY),
    "entries missing": (torch_saved({"format": "forecastr-model", "format_version": 1,
                                     "config": {}}),
                        "corrupt model file: no 'schema' entry" + REMEDY),
    "entry of the wrong type": (lambda folder: torch_saved(
        {**torch.load(V1, weights_only=True), "schema": []})(folder),
        "corrupt model file (schema is a list, not a table)" + REMEDY),
    "directory": (lambda folder: None,
                  "is a directory, not a model file; give the path of the file"),
    "missing": (lambda folder: "missing", "no such model file; check the path"),
    **{f"{gadget.__name__} in a {where}": (make, REFUSED) for gadget in
       (OpenGadget, TouchGadget, ShellGadget) for where, make in [
           ("raw pickle", lambda folder, g=gadget: pickle.dumps(g(folder / MARKER), 2)),
           ("torch archive", lambda folder, g=gadget: torch_saved(
               {"format": "forecastr-model", "format_version": 1, "x": g(folder / MARKER)}
           )(folder)),
           ("bare torch archive", lambda folder, g=gadget: torch_saved(g(folder / MARKER))(
               folder))]},
    # protocol 5 frames its opcodes; torch's weights-only reader stops at the first frame
    "ShellGadget in a protocol 5 pickle": (
        lambda folder: pickle.dumps(ShellGadget(folder / MARKER), 5),
        NOT_OURS),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_one_line_errors_and_never_run_code(case, tmp_path):
    make, message = HOSTILE[case]
    contents = make(tmp_path)
    if contents is None:
        path = tmp_path / "folder.fcst"
        path.mkdir()
    elif contents == "missing":
        path = tmp_path / "missing.fcst"
    else:
        path = tmp_path / "hostile.fcst"
        path.write_bytes(contents)
    with pytest.raises(ModelFileError) as err:
        load(path)
    assert str(err.value) == f"{path}: {message}"
    data = FIXTURES / "series.csv"
    for command in (["info", path], ["predict", path, data], ["evaluate", path, data]):
        result = run_cli(command)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == f"forecastr: error: {path}: {message}\n"
    assert not (tmp_path / MARKER).exists()


def test_every_flipped_bit_is_refused_or_changes_nothing(tmp_path):
    raw = V1.read_bytes()
    original = load(V1)
    path = tmp_path / "flipped.fcst"
    outcomes = Counter()
    for offset in range(0, len(raw), 17):  # 17 is odd, so every bit position is hit
        path.write_bytes(flip(lambda _, at=offset: at, 1 << offset % 8)(raw))
        try:
            loaded = load(path)
        except ModelFileError as exc:
            outcomes[str(exc).removeprefix(f"{path}: ")] += 1
            continue
        # what still loads differs only in bytes nobody reads: padding, dates, attributes
        assert same(loaded, original), f"a flip at byte {offset} changed the model silently"
        outcomes["loaded unchanged"] += 1
    assert set(outcomes) <= {CORRUPT, "loaded unchanged"}, outcomes


def same(a: artifact.Artifact, b: artifact.Artifact) -> bool:
    plain = [f.name for f in dataclasses.fields(a) if f.name not in ("state_dict", "scaling")]
    return (all(getattr(a, name) == getattr(b, name) for name in plain)
            and a.state_dict.keys() == b.state_dict.keys()
            and all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
            and a.scaling.kind == b.scaling.kind
            and np.array_equal(a.scaling.loc, b.scaling.loc)
            and np.array_equal(a.scaling.scale, b.scaling.scale))


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


def entries(content: dict) -> dict[str, set[str]]:
    """The names a model file holds: its top-level entries and those of its tables."""
    return {"(top level)": set(content) - {"conformal"},
            **{key: set(content[key]) for key in ("config", "schema", "dimensions", "scaling",
                                                  "series")}}


def test_the_format_moves_whenever_what_a_model_file_holds_changes(tmp_path):
    from tests.fixtures.make_fixtures import CONFIG, DATA

    current = torch.load(FIXTURES / f"model-v{artifact.FORMAT_VERSION}.fcst",
                         weights_only=True)
    api.fit(DATA, CONFIG, tmp_path / "now.fcst")
    now = torch.load(tmp_path / "now.fcst", weights_only=True)
    assert set(now["config"]) == {f.name for f in dataclasses.fields(FitConfig)}
    assert entries(now) == entries(current), (
        "what a model file holds changed: bump artifact.FORMAT_VERSION, add an upgrade from "
        "the format before, and run tests/fixtures/make_fixtures.py for the new fixture")


@pytest.mark.parametrize("where", ["(top level)", "config", "schema", "dimensions", "scaling",
                                   "series"])
def test_an_entry_this_forecastr_does_not_know_reads_as_newer(tmp_path, where):
    content = torch.load(FIXTURES / f"model-v{artifact.FORMAT_VERSION}.fcst",
                         weights_only=True)
    (content if where == "(top level)" else content[where])["added_later"] = 1
    torch.save(content, tmp_path / "later.fcst")
    named = "'added_later'" if where == "(top level)" else f"{where}.added_later"
    with pytest.raises(ModelFileError, match=rf"written by a newer forecastr \(it holds "
                                             rf"{re.escape(named)}, which this one does not "
                                             rf"know\); upgrade forecastr$"):
        load(tmp_path / "later.fcst")


def test_segments_left_pad_a_series_shorter_than_the_window(tmp_path):
    frame = pd.DataFrame({"unique_id": ["long"] * 40 + ["short"] * 9,
                          "ds": list(pd.date_range("2001-01-01", periods=40, freq="MS"))
                          + list(pd.date_range("2001-01-01", periods=9, freq="MS")),
                          "y": np.r_[np.sin(np.arange(40)), np.cos(np.arange(9))] + 5})
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = dataclasses.replace(TINY, segment=5)  # window 12: three segments, the first padded
    api.fit(tmp_path / "d.csv", cfg, tmp_path / "m.fcst")
    forecasts = api.predict(tmp_path / "m.fcst", tmp_path / "d.csv", device_spec="cpu")
    assert forecasts.groupby("unique_id").size().to_dict() == {"long": 4, "short": 4}
    assert np.isfinite(forecasts["y"]).all()
