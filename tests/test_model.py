"""The network: output shapes for every cell, mode and direction; reference checks of the
encoder against a raw torch RNN and of the unrolled decoder against a step-by-step loop."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from torch import nn

from forecastr.config import FitConfig
from forecastr.network.inputs import encoder_inputs
from forecastr.network.model import Dimensions, Forecaster

DIMS = Dimensions(n_inputs=4, n_targets=2, n_calendar=1, n_quantiles=1)


def tiny(**changes) -> FitConfig:  # the bare network: no highway, no baseline added
    return FitConfig(**{"hidden": 8, "layers": 2, "dropout": 0.0, "highway": False,
                        "baseline": "none", **changes})


@pytest.mark.parametrize("cell, mode, bidirectional", list(itertools.product(
    ["rnn", "lstm", "gru"], ["many-to-one", "many-to-many"], [False, True])))
def test_output_shape_for_every_architecture(cell, mode, bidirectional):
    torch.manual_seed(0)
    model = Forecaster(tiny(cell=cell, mode=mode, bidirectional=bidirectional, horizon=5,
                            window=7), DIMS)
    x = torch.randn(3, 7, DIMS.n_inputs)
    calendar = torch.randn(3, 5, DIMS.n_calendar)
    out = model(x, calendar)
    assert out.shape == (3, 5, 2, 1) and torch.isfinite(out).all()
    out.sum().backward()  # gradients reach the encoder through time
    assert next(model.encoder.parameters()).grad.abs().sum() > 0


def test_quantile_axis_only_widens_the_head():
    dims = Dimensions(n_inputs=3, n_targets=1, n_calendar=0, n_quantiles=3)
    for mode in ("many-to-one", "many-to-many"):
        model = Forecaster(tiny(mode=mode, horizon=4, window=6), dims)
        assert model(torch.randn(2, 6, 3)).shape == (2, 4, 1, 3)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_many_to_one_equals_raw_torch_rnn_and_linear(cell):
    torch.manual_seed(1)
    cfg = tiny(cell=cell, bidirectional=True, nonlinearity="relu")
    model = Forecaster(dataclasses.replace(cfg, horizon=3, window=9), DIMS).eval()
    raw = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
        4, 8, num_layers=2, batch_first=True, bidirectional=True,
        **({"nonlinearity": "relu"} if cell == "rnn" else {}))
    raw.load_state_dict(model.encoder.state_dict())
    x = torch.randn(5, 9, 4)
    outputs, _ = raw(x)  # (B, L, 2 * D): forward half at the last step, backward at the first
    final = torch.cat([outputs[:, -1, :8], outputs[:, 0, 8:]], dim=-1)
    expected = model.head(final).view(5, 3, 2, 1)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("cell, bidirectional", list(itertools.product(["rnn", "lstm", "gru"],
                                                                       [False, True])))
def test_unrolled_decoder_equals_step_by_step_loop(cell, bidirectional):
    torch.manual_seed(2)
    model = Forecaster(tiny(cell=cell, mode="many-to-many", bidirectional=bidirectional,
                            horizon=4, window=6), DIMS).eval()
    x = torch.randn(3, 6, 4)
    calendar = torch.randn(3, 4, 1)
    teacher = torch.randn(3, 4, 2)
    unrolled = model(x, calendar, teacher)
    # reference: feed the decoder one step at a time with the teacher's previous value
    _, state = model.encoder(x)
    state = model._decoder_state(state)
    previous, steps = x[:, -1:, :2], []
    for h in range(4):
        out, state = model.decoder(torch.cat([previous, calendar[:, h:h + 1]], dim=-1), state)
        steps.append(model.head(out).view(3, 1, 2, 1))
        previous = teacher[:, h:h + 1]
    torch.testing.assert_close(unrolled, torch.cat(steps, dim=1))
    # free running is the same loop fed its own outputs
    free = model(x, calendar)
    torch.testing.assert_close(model(x, calendar, free[..., 0]), free)


def test_encoder_inputs_append_the_mask():
    x = torch.ones(2, 3, 2)
    mask = torch.tensor([[False, True, True], [True, True, True]])
    out = encoder_inputs(x, mask)
    assert out.shape == (2, 3, 3) and out[0, :, -1].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("mode", ["many-to-one", "many-to-many"])
def test_highway_adds_a_linear_map_of_the_window_targets(mode):
    torch.manual_seed(3)
    model = Forecaster(tiny(mode=mode, highway=True, horizon=4, window=6), DIMS).eval()
    x = torch.randn(3, 6, 4)
    calendar = torch.randn(3, 4, 1)
    teacher = torch.randn(3, 4, 2)
    shortcut = torch.einsum("blk,hl->bhk", x[..., :2], model.highway.weight) + model.highway.bias[
        None, :, None]
    without = Forecaster(tiny(mode=mode, horizon=4, window=6), DIMS).eval()
    without.load_state_dict({k: v for k, v in model.state_dict().items()
                             if not k.startswith("highway")})
    # teacher forcing fixes the decoder's inputs, so the shortcut simply adds on
    torch.testing.assert_close(model(x, calendar, teacher),
                               without(x, calendar, teacher) + shortcut.unsqueeze(-1))
    if mode == "many-to-many":  # free running feeds back the forecast, shortcut included
        free = model(x, calendar)
        torch.testing.assert_close(model(x, calendar, free[..., 0]), free)


@pytest.mark.parametrize(("season", "window", "expected"), [
    (3, 7, [4, 5, 6, 4, 5]),  # the last season, repeated over the horizon
    (1, 7, [6] * 5),  # no season: the last value
    (12, 7, [6] * 5),  # a season longer than the window: the last value
])
@pytest.mark.parametrize("mode", ["many-to-one", "many-to-many"])
def test_a_new_model_forecasts_its_seasonal_naive_baseline(season, window, expected, mode):
    dims = dataclasses.replace(DIMS, season=season)
    model = Forecaster(tiny(mode=mode, baseline="seasonal-naive", highway=True, horizon=5,
                            window=window), dims).eval()
    x = torch.randn(3, window, DIMS.n_inputs)
    out = model(x, torch.randn(3, 5, DIMS.n_calendar))  # (B, H, K, Q)
    torch.testing.assert_close(out[..., 0], x[:, expected, :2], rtol=0, atol=0)
    out.sum().backward()  # the zeroed output layers still learn
    assert model.head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("cell, mode", list(itertools.product(
    ["rnn", "lstm", "gru"], ["many-to-one", "many-to-many"])))
def test_segments_run_the_encoder_over_a_step_per_segment(cell, mode):
    torch.manual_seed(0)
    model = Forecaster(tiny(cell=cell, mode=mode, window=10, horizon=4, segment=4), DIMS)
    assert model.encoder.input_size == 8 and model.segments.in_features == 4 * DIMS.n_inputs
    x = torch.randn(3, 10, DIMS.n_inputs)
    seen = []
    model.encoder.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    out = model(x, torch.randn(3, 4, DIMS.n_calendar))
    assert seen == [(3, 3, 8)]  # 10 steps padded to 12: three segments of four
    assert out.shape == (3, 4, 2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    assert model.segments.weight.grad.abs().sum() > 0


def test_a_short_window_is_padded_at_its_start_with_unobserved_steps():
    torch.manual_seed(0)
    model = Forecaster(tiny(window=10, horizon=2, segment=4), DIMS)
    x = encoder_inputs(torch.randn(2, 10, 3), torch.ones(2, 10, dtype=torch.bool))
    steps = model._segmented(x)  # (B, 3, D)
    padded = nn.functional.pad(x, (0, 0, 2, 0)).reshape(2, 3, 16)
    assert padded[:, 0, :8].eq(0).all()  # two zero steps, their mask 0 too
    torch.testing.assert_close(steps, torch.relu(model.segments(padded)))


def test_segment_one_is_the_point_wise_model():
    torch.manual_seed(2)
    point = Forecaster(tiny(window=6, horizon=3), DIMS)
    torch.manual_seed(2)
    one = Forecaster(tiny(window=6, horizon=3, segment=1), DIMS)
    assert one.segments is None and one.state_dict().keys() == point.state_dict().keys()
    x = torch.randn(4, 6, DIMS.n_inputs)
    torch.testing.assert_close(one(x), point(x))


def test_a_segment_longer_than_the_window_is_refused():
    from forecastr.errors import ConfigError

    with pytest.raises(ConfigError, match="--segment must be at most the window \\(6 steps\\)"):
        tiny(window=6, segment=7)
