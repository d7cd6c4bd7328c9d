"""Scaling: golden statistics, training-span-only fitting, and exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecastr.data.panel import Panel, Schema
from forecastr.network import scaling


def panel_of(*series: list[list[float]]) -> Panel:
    values = np.concatenate([np.asarray(s, np.float64).reshape(len(s), -1) for s in series])
    n_channels = values.shape[1]
    channels = ("y", *(f"f{i}" for i in range(n_channels - 1)))
    schema = Schema("long", None, "none", None, 1, None, "unique_id", ("y",), channels[1:],
                    channels)
    lengths = [len(s) for s in series]
    return Panel(values=values, times=np.concatenate([np.arange(n) for n in lengths]),
                 indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
                 ids=tuple(f"s{i}" for i in range(len(series))), schema=schema,
                 filled=np.zeros(len(series), np.int64), source="test")


def test_standard_golden_on_training_span_only():
    panel = panel_of([1, 2, 3, 100], [5, 5, 5])
    stats = scaling.fit(panel, "standard", train_ends=np.array([3, 3]))
    assert stats.loc[:, 0].tolist() == [2.0, 5.0]
    assert stats.scale[0, 0] == pytest.approx(np.sqrt(2 / 3))
    assert stats.scale[1, 0] == 1.0  # a constant series is shifted, never divided by 0
    scaled = scaling.apply(panel, stats)
    assert scaled[:3, 0] == pytest.approx([-np.sqrt(1.5), 0.0, np.sqrt(1.5)], rel=1e-6)
    assert scaled[4:, 0].tolist() == [0.0, 0.0, 0.0]


def test_minmax_golden():
    panel = panel_of([2, 4, 6, 10])
    stats = scaling.fit(panel, "minmax", train_ends=np.array([3]))
    assert (stats.loc[0, 0], stats.scale[0, 0]) == (2.0, 4.0)
    assert scaling.apply(panel, stats)[:, 0].tolist() == [0.0, 0.5, 1.0, 2.0]


def test_none_is_identity_and_window_scales_only_features_per_series():
    panel = panel_of([[1, 10], [3, 30]])
    assert scaling.apply(panel, scaling.fit(panel, "none")).tolist() == panel.values.tolist()
    stats = scaling.fit(panel, "window")
    assert stats.loc[0].tolist() == [0.0, 20.0] and stats.scale[0].tolist() == [1.0, 10.0]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(data=st.data(), kind=st.sampled_from(["standard", "minmax", "none", "window"]))
def test_round_trip_and_training_span_only(data, kind):
    lengths = data.draw(st.lists(st.integers(1, 20), min_size=1, max_size=4))
    values = [data.draw(arrays(np.float32, (n, 2), elements=st.floats(-1e4, 1e4, width=32)))
              for n in lengths]
    ends = np.array([data.draw(st.integers(1, n)) for n in lengths])
    panel = panel_of(*values)
    stats = scaling.fit(panel, kind, ends)
    scaled = scaling.apply(panel, stats)
    series = np.repeat(np.arange(len(lengths)), lengths)
    back = scaling.invert(scaled[:, None, :].astype(np.float64), stats, series)[:, 0, :]
    np.testing.assert_allclose(back, panel.values, rtol=1e-5, atol=1e-2)
    # values after each training span must not change the statistics
    changed = [v.copy() for v in values]
    for v, end in zip(changed, ends):
        v[end:] = 12345.0
    again = scaling.fit(panel_of(*changed), kind, ends)
    np.testing.assert_array_equal(again.loc, stats.loc)
    np.testing.assert_array_equal(again.scale, stats.scale)


def test_window_normalise_uses_observed_inputs_only():
    x = torch.tensor([[[0.0], [0.0], [2.0], [4.0]]])  # (B=1, L=4, C=1), two padded steps
    mask = torch.tensor([[False, False, True, True]])
    y = torch.tensor([[[6.0]]])
    xn, yn, loc, scale = scaling.window_normalise(x, y, mask, n_targets=1, floor=0.1)
    assert loc.item() == 3.0 and scale.item() == 1.0
    assert xn[0, :, 0].tolist() == [0.0, 0.0, -1.0, 1.0]
    assert yn.item() == 3.0
    assert (yn * scale + loc).item() == 6.0


def test_window_normalise_leaves_features_alone_and_survives_constant_windows():
    x = torch.tensor([[[5.0, 7.0], [5.0, 8.0]], [[0.0, 7.0], [0.0, 8.0]]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    y = torch.tensor([[[6.0]], [[1.0]]])
    xn, yn, loc, scale = scaling.window_normalise(x, y, mask, n_targets=1, floor=0.1)
    # a flat window is scaled by a tenth of its level, so its targets are relative changes;
    # a flat window at zero is only shifted
    assert scale.flatten().tolist() == [0.5, 1.0] and loc.flatten().tolist() == [5.0, 0.0]
    assert yn.flatten().tolist() == [2.0, 1.0]
    assert xn.tolist() == [[[0.0, 7.0], [0.0, 8.0]], [[0.0, 7.0], [0.0, 8.0]]]


def test_a_window_of_one_observed_step_is_scaled_by_its_level():
    x = torch.tensor([[[0.0], [0.0], [2000.0]]])  # a short series, left-padded
    mask = torch.tensor([[False, False, True]])
    y = torch.tensor([[[2100.0]]])
    _, yn, loc, scale = scaling.window_normalise(x, y, mask, n_targets=1, floor=0.1)
    assert (loc.item(), scale.item(), yn.item()) == (2000.0, 200.0, 0.5)
    # models of format 2 and older scale without a floor, and still forecast as they did
    _, yn, loc, scale = scaling.window_normalise(x, y, mask, n_targets=1, floor=0.0)
    assert (loc.item(), scale.item(), yn.item()) == (2000.0, 1.0, 100.0)
    assert scaling.fit(panel_of([[1.0], [2.0]]), "window").floor == 0.1
