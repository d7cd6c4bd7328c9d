"""Static features (--static-features) and id embeddings (--id-embedding): read once per
series from a long file, encoded as levels and scaled numbers, read by the encoder, stored
in the model file, and unseen levels or series read as unknown."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data.reader import read_panel
from forecastr.errors import ConfigError, DataError
from forecastr.modelfile import artifact
from forecastr.network import static
from forecastr.network.model import Dimensions, Forecaster, Static, embedding_widths
from tests.conftest import run_cli

STATIC = FitConfig(static_features=("kind", "size"), freq="D")


def write(path, text: str):
    path.write_text(text)
    return path


def shops(path, series: int = 6, days: int = 50):
    """Daily series whose shape follows their kind (a weekly or a five-day cycle) and whose
    level follows their size."""
    rng = np.random.default_rng(3)
    frames = []
    for i in range(series):
        kind, size = ("weekly", "fiveday")[i % 2], float(1 + i % 3)
        period = 7 if kind == "weekly" else 5
        t = np.arange(days)
        y = size * (10 + 3 * np.sin(2 * np.pi * t / period)) + 0.2 * rng.standard_normal(days)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range(
            "2021-01-01", periods=days, freq="D"), "y": y.round(3), "kind": kind,
            "size": size}))
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(path, index=False)
    return frame


def test_one_value_per_series_as_written_empty_cells_allowed(tmp_path):
    path = write(tmp_path / "d.csv", "unique_id,ds,y,kind,size\n"
                 "a,2020-01-01,1,north,10\na,2020-01-02,2,,10\n"
                 "b,2020-01-01,3,007,\nb,2020-01-02,4,007,\n")
    panel = read_panel(path, STATIC)
    assert panel.schema.static_features == ("kind", "size")
    assert panel.schema.channels == ("y",)  # not a target, not an input channel
    assert panel.static["kind"].tolist() == ["north", "007"]  # 007 as written
    assert panel.static["size"].tolist() == ["10", None]


def test_two_values_in_one_series_name_both_and_the_line(tmp_path):
    path = write(tmp_path / "d.csv", "unique_id,ds,y,kind,size\n"
                 "a,2020-01-01,1,north,1\na,2020-01-02,2,south,1\n")
    with pytest.raises(DataError, match=r"d.csv, line 3: static column 'kind' holds 'south' "
                                        r"for series 'a', which holds 'north' elsewhere"):
        read_panel(path, STATIC)


def test_static_features_need_a_long_file_and_their_columns(tmp_path):
    wide = write(tmp_path / "w.csv", "ds,a,b\n2020-01-01,1,2\n2020-01-02,3,4\n")
    with pytest.raises(DataError, match="--static-features need a long file"):
        read_panel(wide, FitConfig(static_features=("a",), targets=("b",)))
    long = write(tmp_path / "l.csv", "unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,2\n")
    with pytest.raises(DataError, match=r"no column 'kind' \(the static feature, "
                                        r"--static-features\)"):
        read_panel(long, FitConfig(static_features=("kind",)))
    with pytest.raises(ConfigError, match="--id-embedding must be at most 1024"):
        FitConfig(id_embedding=5000)


def test_levels_and_scaling_golden(tmp_path):
    path = write(tmp_path / "d.csv", "unique_id,ds,y,kind,size\n"
                 "a,2020-01-01,1,north,1\nb,2020-01-01,2,south,3\nc,2020-01-01,3,,5\n"
                 "c,2020-01-02,3,,5\n")
    panel = read_panel(path, STATIC)
    stats = static.fit(panel)
    assert stats.levels == {"kind": ["north", "south"]}
    assert stats.numeric == {"size": [3.0, pytest.approx(np.sqrt(8 / 3))]}
    codes, numbers = static.encode(panel, stats, np.array([1, -1, 0]))
    assert codes.tolist() == [[1, 2], [2, 0], [0, 1]]  # kind (c has none), then id row + 1
    assert numbers[:, 0] == pytest.approx([-1.2247449, 0.0, 1.2247449])
    # predict on a file whose store is new and whose size is missing or text
    later = write(tmp_path / "later.csv", "unique_id,ds,y,kind,size\n"
                  "d,2020-01-01,1,east,2\ne,2020-01-01,1,north,\n")
    with pytest.raises(DataError, match="series 'e' has no value of the numeric static "
                                        "feature 'size'"):
        static.encode(read_panel(later, STATIC), stats, None)
    text = write(tmp_path / "text.csv", "unique_id,ds,y,kind,size\nd,2020-01-01,1,east,big\n")
    with pytest.raises(DataError, match="static feature 'size' of series 'd' is 'big', not a "
                                        "number"):
        static.encode(read_panel(text, STATIC), stats, None)
    new_level = static.encode(read_panel(write(tmp_path / "n.csv", "unique_id,ds,y,kind,size"
                                               "\nd,2020-01-01,1,east,2\n"), STATIC), stats,
                              None)
    assert new_level[0].tolist() == [[0]]


def test_numbers_of_any_magnitude_are_scaled_without_overflow(tmp_path):
    path = write(tmp_path / "d.csv", "unique_id,ds,y,size\n"
                 "a,2020-01-01,1,1e200\nb,2020-01-01,2,3e200\nc,2020-01-01,3,5e200\n"
                 "c,2020-01-02,3,5e200\n")
    panel = read_panel(path, FitConfig(static_features=("size",)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning, before
        stats = static.fit(panel)
        _, numbers = static.encode(panel, stats, None)
    assert stats.numeric["size"] == [pytest.approx(3e200), pytest.approx(np.sqrt(8 / 3) * 1e200)]
    assert numbers[:, 0] == pytest.approx([-1.2247449, 0.0, 1.2247449])
    # a damaged model's scale (a mean near float64's largest) is a one-line error, not
    # infinite inputs
    far = static.StaticStats({}, {"size": [1e308, 1.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="static feature 'size' of series 'a' \\(1e\\+200\\) "
                                            "is out of reach of the model's scale"):
            static.encode(panel, far, None)


def test_the_encoder_reads_the_static_features_and_training_hides_some_levels():
    cfg = FitConfig(window=5, horizon=2, hidden=3, id_embedding=2, dropout=0.0,
                    baseline="none")
    dims = Dimensions(n_inputs=2, n_targets=1, n_calendar=0, static_levels=(40, 4),
                      n_static_numbers=1)
    assert embedding_widths(cfg, dims) == [16, 2]  # half the levels, at most 16; the id's
    torch.manual_seed(0)
    net = Forecaster(cfg, dims).eval()
    assert net.encoder.input_size == 2 + 16 + 2 + 1
    x = torch.randn(3, 5, 2)
    one = Static(torch.tensor([[1, 1], [1, 1], [1, 1]]), torch.zeros(3, 1))
    other = Static(torch.tensor([[2, 1], [1, 3], [1, 1]]), torch.tensor([[0.0], [0.0], [1.0]]))
    changed = (net(x, static=one) != net(x, static=other)).flatten(1).any(dim=1)
    assert changed.tolist() == [True, True, True]  # a level, the id, a number each
    assert torch.equal(net(x, static=one), net(x, static=one))  # evaluation: no hiding
    net.train()
    torch.manual_seed(1)
    hidden = [(net._static(one)[:, :16] == net.embeddings[0].weight[0]).all(dim=1)
              for _ in range(200)]
    share = torch.stack(hidden).float().mean().item()
    assert 0.05 < share < 0.15  # about UNKNOWN_SHARE of the levels read as unknown


@pytest.fixture(scope="module")
def shop_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shops")
    frame = shops(folder / "data.csv")
    cfg = FitConfig(window=14, horizon=5, max_steps=30, static_features=("kind", "size"),
                    id_embedding=3, device="cpu", seed=1)
    fitted = api.fit(folder / "data.csv", cfg, folder / "m.fcst").artifact
    return folder, frame, fitted


def test_a_model_with_static_features_saves_loads_and_forecasts_alike(shop_model):
    folder, _, fitted = shop_model
    loaded = artifact.load(folder / "m.fcst")
    assert loaded.static == fitted.static
    assert loaded.static.levels == {"kind": ["fiveday", "weekly"]}
    assert loaded.dimensions.static_levels == (3, 7)  # two kinds + unknown; six ids + unknown
    first = api.predict(folder / "m.fcst", folder / "data.csv", device_spec="cpu")
    again = api.predict(folder / "m.fcst", folder / "data.csv", device_spec="cpu")
    assert first.equals(again)
    shown = run_cli(["info", folder / "m.fcst", "--json"])
    assert '"static_features": [\n      "kind",\n      "size"\n    ]' in shown.stdout


def test_a_series_of_a_new_kind_and_id_is_forecast_from_the_unknown_levels(shop_model,
                                                                          tmp_path):
    folder, frame, _ = shop_model
    known = frame[frame.unique_id == "s1"]
    renamed = known.assign(unique_id="new", kind="monthly")
    pd.concat([known, renamed]).to_csv(tmp_path / "new.csv", index=False)
    result = run_cli(["predict", folder / "m.fcst", tmp_path / "new.csv"])
    assert result.exit_code == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    old = [float(r[2]) for r in rows if r[0] == "s1"]
    new = [float(r[2]) for r in rows if r[0] == "new"]
    assert len(old) == len(new) == 5 and old != new  # same history, other levels
    assert "forecast 1 series unseen in training" in result.stderr


def test_a_tampered_static_entry_is_a_corrupt_model_file(shop_model, tmp_path):
    folder, _, fitted = shop_model
    broken = artifact.Artifact(**{**fitted.__dict__, "static": static.StaticStats(
        {"kind": ["weekly", "weekly"]}, fitted.static.numeric)})
    artifact.save(tmp_path / "b.fcst", broken)
    with pytest.raises(Exception, match="corrupt model file \\(static.levels.kind repeats a "
                                        "level\\)"):
        artifact.load(tmp_path / "b.fcst")
    for mean, spread, why in ((0.0, 1e-320, "static.numeric.size is not a finite mean and a "
                                            "spread of at least 2.23e-308"),
                              (float("inf"), 1.0, "static.numeric.size\\[0\\] is inf")):
        far = artifact.Artifact(**{**fitted.__dict__, "static": static.StaticStats(
            fitted.static.levels, {"size": [mean, spread]})})
        artifact.save(tmp_path / "t.fcst", far)
        with pytest.raises(Exception, match=f"corrupt model file \\({why}"):
            artifact.load(tmp_path / "t.fcst")
    missing = artifact.Artifact(**{**fitted.__dict__, "static": static.StaticStats(
        {}, fitted.static.numeric)})
    artifact.save(tmp_path / "m.fcst", missing)
    with pytest.raises(Exception, match="static does not describe schema.static_features"):
        artifact.load(tmp_path / "m.fcst")


def test_a_resumed_fit_hides_the_same_levels_as_an_uninterrupted_one(shop_model, tmp_path):
    from forecastr.errors import Interrupted
    from tests.test_resume import StopAfter, assert_same_run

    folder, _, _ = shop_model
    cfg = FitConfig(window=14, horizon=5, max_steps=12, batch_size=32, epoch_size=64,
                    static_features=("kind", "size"), id_embedding=3, device="cpu")
    expected = api.fit(folder / "data.csv", cfg).artifact
    with pytest.raises(Interrupted):
        api.fit(folder / "data.csv", cfg, tmp_path / "m.fcst", stop=StopAfter(5))
    resumed = api.fit(folder / "data.csv", cfg, tmp_path / "m.fcst", resume=True).artifact
    assert_same_run(resumed, expected)


def test_loading_a_model_imports_no_compiler(shop_model):
    # its shapes are checked on the meta device, where initialising an embedding or indexing
    # the seasonal baseline imported torch._dynamo: 1.2 s of every predict
    folder, _, fitted = shop_model
    assert fitted.dimensions.static_levels and fitted.config.baseline == "seasonal-naive"
    code = ("import sys\nfrom forecastr.modelfile import artifact\n"
            f"artifact.load({str(folder / 'm.fcst')!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', "
            "'torch._inductor'))))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert (shown.returncode, shown.stdout) == (0, "[]\n"), shown.stderr
