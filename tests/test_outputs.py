"""The model's outputs beyond the point: names, column order and where each is read."""

from __future__ import annotations

from forecastr.config import FitConfig
from forecastr.network.outputs import (
    Output,
    extra_outputs,
    interval_quantiles,
    intervals,
    quantile_levels,
)


def test_quantile_outputs_and_interval_bounds_golden():
    cfg = FitConfig(quantiles=(0.9, 0.05), intervals=(95.0, 80.0))  # quantile intervals
    assert quantile_levels(cfg) == (0.025, 0.05, 0.1, 0.5, 0.9, 0.975)
    found = extra_outputs(cfg)
    # quantiles by quantile, then each interval's bounds, narrowest level first; a bound
    # reads the head's output of its quantile (hi-80 is q0.9's output)
    assert [(o.suffix, o.index, o.quantile) for o in found] == [
        ("q0.05", 1, 0.05), ("q0.9", 4, 0.9), ("lo-80", 2, 0.1), ("hi-80", 4, 0.9),
        ("lo-95", 0, 0.025), ("hi-95", 5, 0.975)]
    assert [(low.suffix, high.suffix) for low, high in intervals(found)] == [
        ("lo-80", "hi-80"), ("lo-95", "hi-95")]


def test_conformal_bounds_follow_the_head_lower_ones_first_in_the_order_given():
    cfg = FitConfig(intervals=(95.0, 80.0), interval_method="conformal")
    assert quantile_levels(cfg) == ()  # a point head
    # forecast() appends the lower bounds of 95 then 80, then the upper ones
    assert [(o.suffix, o.index) for o in extra_outputs(cfg)] == [
        ("lo-80", 2), ("hi-80", 4), ("lo-95", 1), ("hi-95", 3)]


def test_a_point_model_has_no_extra_outputs():
    assert extra_outputs(FitConfig()) == [] and quantile_levels(FitConfig()) == ()
    assert interval_quantiles(80) == (0.1, 0.9) and interval_quantiles(95) == (0.025, 0.975)
    assert Output(3, 0.25, 50.0, "lo").suffix == "lo-50"
