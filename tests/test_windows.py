"""Windows: golden origins, the leak-free validation split, padding, and gather against a
naive slicing loop (property-based)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr.config import FitConfig
from forecastr.data.panel import Panel, Schema, tail
from forecastr.data.reader import read_panel
from forecastr.errors import DataError
from forecastr.network.windows import build, gather


def make_panel(lengths: list[int], n_features: int = 0, seed: int = 0) -> Panel:
    """Series whose values encode (series, step) so that misaligned windows are visible."""
    rng = np.random.default_rng(seed)
    blocks = []
    for s, n in enumerate(lengths):
        steps = np.arange(n, dtype=np.float32)
        target = 1000 * (s + 1) + steps  # value tells which series and step it came from
        feats = rng.standard_normal((n, n_features)).astype(np.float32)
        blocks.append(np.column_stack([target, feats]))
    values = np.concatenate(blocks).astype(np.float64)
    schema = Schema("long", "ds", "integer", None, 1, None, "unique_id", ("y",),
                    tuple(f"f{i}" for i in range(n_features)),
                    ("y", *(f"f{i}" for i in range(n_features))))
    return Panel(values=values, times=np.concatenate([np.arange(n) for n in lengths]),
                 indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
                 ids=tuple(f"s{i}" for i in range(len(lengths))), schema=schema,
                 filled=np.zeros(len(lengths), np.int64), source="test.csv")


def relative(panel: Panel, index) -> list[tuple[int, int]]:
    return [(int(s), int(o - panel.indptr[s])) for o, s in zip(index.origins, index.series)]


def test_golden_origins_without_validation():
    panel = make_panel([10])
    split = build(panel, window=3, horizon=2, stride=1, val_windows=0)
    assert relative(panel, split.train) == [(0, t) for t in range(3, 9)]
    assert len(split.val) == 0
    assert split.train_ends.tolist() == [10]


def test_golden_origins_with_validation_and_stride():
    panel = make_panel([20, 12])
    split = build(panel, window=4, horizon=3, stride=2, val_windows=2)
    # series 0: latest origin 17, validation origins 15 and 17, so the cut is 15 and the
    # latest training window (targets 12..14) ends right before it, stepping back by 2
    assert relative(panel, split.val) == [(0, 15), (0, 17), (1, 7), (1, 9)]
    assert relative(panel, split.train) == [(0, 4), (0, 6), (0, 8), (0, 10), (0, 12), (1, 4)]
    assert split.train_ends.tolist() == [15, 7]


def test_short_series_are_padded_and_too_short_ones_skipped(caplog):
    panel = make_panel([30, 6, 2])
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        split = build(panel, window=8, horizon=2, stride=1, val_windows=0)
    assert split.padded == ("s1",)
    assert split.skipped == ("s2",)
    assert relative(panel, split.train)[-4:] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert "left-padded 1 series" in caplog.text and "'s2'" in caplog.text


def test_no_series_long_enough_names_the_longest():
    panel = make_panel([3, 5, 4])
    with pytest.raises(DataError) as err:
        build(panel, window=10, horizon=5, stride=1, val_windows=1)
    message = str(err.value)
    assert "'s1'" in message and "has 5 points" in message and "at least 6" in message


def test_series_without_room_for_training_gives_all_windows_to_training():
    panel = make_panel([40, 4])
    split = build(panel, window=3, horizon=2, stride=1, val_windows=3)
    assert {s for s, _ in relative(panel, split.val)} == {0}
    assert [t for s, t in relative(panel, split.train) if s == 1] == [1, 2]
    assert split.train_ends.tolist() == [36, 4]


def test_index_costs_sixteen_bytes_per_window_whatever_the_window_length():
    panel = make_panel([5000])
    for window in (32, 512):
        split = build(panel, window=window, horizon=8, stride=1, val_windows=0)
        index = split.train
        assert index.origins.nbytes + index.series.nbytes == 16 * len(index)


def test_gather_golden_values_with_padding():
    panel = make_panel([3])
    split = build(panel, window=4, horizon=1, stride=1, val_windows=0)
    values = torch.from_numpy(panel.values)
    x, y, mask, calendar = gather(values, torch.from_numpy(panel.indptr),
                                  torch.from_numpy(split.train.origins),
                                  torch.from_numpy(split.train.series), 4, 1, 1)
    assert calendar.shape == (2, 1, 0)
    assert x[:, :, 0].tolist() == [[0, 0, 0, 1000], [0, 0, 1000, 1001]]
    assert mask.tolist() == [[False, False, False, True], [False, False, True, True]]
    assert y[:, :, 0].tolist() == [[1001], [1002]]


def naive_windows(panel: Panel, index, window: int, horizon: int):
    """Reference: slice each window out of its series with a Python loop."""
    xs, ys, masks, aheads = [], [], [], []
    for origin, s in zip(index.origins, index.series):
        values, _ = panel.series(int(s))
        t0 = int(origin - panel.indptr[s])
        x = np.zeros((window, values.shape[1]), np.float32)
        mask = np.zeros(window, bool)
        for i in range(window):
            t = t0 - window + i
            if t >= 0:
                x[i], mask[i] = values[t], True
        xs.append(x)
        ys.append(values[t0:t0 + horizon, :1])
        aheads.append(values[t0:t0 + horizon, 1:])
        masks.append(mask)
    return np.array(xs), np.array(ys), np.array(masks), np.array(aheads)


shapes = st.fixed_dictionaries({
    "lengths": st.lists(st.integers(1, 40), min_size=1, max_size=6),
    "window": st.integers(1, 12),
    "horizon": st.integers(1, 6),
    "stride": st.integers(1, 4),
    "val_windows": st.integers(0, 4),
})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(shapes)
def test_windows_properties(case):
    panel = make_panel(case["lengths"], n_features=1)
    window, horizon, stride = case["window"], case["horizon"], case["stride"]
    try:
        split = build(panel, window, horizon, stride, case["val_windows"])
    except DataError:
        assert max(case["lengths"]) < horizon + 1
        return
    lengths = panel.lengths
    for name, index in (("train", split.train), ("val", split.val)):
        for s, t0 in relative(panel, index):
            assert 1 <= t0 and t0 + horizon <= lengths[s], name
            if name == "train":  # the whole training window lies before the cut
                assert t0 + horizon <= split.train_ends[s]
            else:  # every validation target lies at or after the cut
                assert t0 >= split.train_ends[s]
    for s, n in enumerate(lengths):
        train = sorted(t for q, t in relative(panel, split.train) if q == s)
        val = sorted(t for q, t in relative(panel, split.val) if q == s)
        if n < horizon + 1:
            assert not train and not val and panel.ids[s] in split.skipped
            continue
        assert (val or train)[-1] == n - horizon  # the most recent window is always used
        assert len(val) <= case["val_windows"]
        for run in (train, val):
            assert all(b - a == stride for a, b in zip(run, run[1:]))
        if n >= window + horizon and train and split.train_ends[s] - horizon >= window:
            assert train[0] >= window  # long series get only unpadded training windows
            assert train[0] - stride < window  # ... and all of them
    for index in (split.train, split.val):
        if not len(index):
            continue
        x, y, mask, ahead = gather(torch.from_numpy(panel.values),
                                   torch.from_numpy(panel.indptr),
                                   torch.from_numpy(index.origins),
                                   torch.from_numpy(index.series), window, horizon, 1, 1)
        ref_x, ref_y, ref_mask, ref_ahead = naive_windows(panel, index, window, horizon)
        np.testing.assert_array_equal(ahead.numpy(), ref_ahead)
        np.testing.assert_array_equal(x.numpy(), ref_x)
        np.testing.assert_array_equal(y.numpy(), ref_y)
        np.testing.assert_array_equal(mask.numpy(), ref_mask)


def test_tail_keeps_each_series_last_rows():
    panel = read_panel(io.BytesIO(b"unique_id,ds,y\n" + b"".join(
        f"{s},2020-01-{d:02d},{10 * i + d}\n".encode()
        for i, (s, n) in enumerate([("a", 5), ("b", 2), ("c", 3)]) for d in range(1, n + 1))),
        FitConfig())
    cut = tail(panel, 3)
    assert cut.ids == panel.ids and list(cut.lengths) == [3, 2, 3]
    assert cut.values[:, 0].tolist() == [3, 4, 5, 11, 12, 21, 22, 23]
    assert cut.times[0] == np.datetime64("2020-01-03")
