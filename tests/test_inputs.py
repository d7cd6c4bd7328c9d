"""One path from windows to the network's input: training, validation, backtests and predict
all build it with inputs.encode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data.panel import select, truncate
from forecastr.data.reader import read_panel
from forecastr.forecasting import forecast
from forecastr.network import scaling
from forecastr.network.inputs import encode, encoder_inputs
from forecastr.training import train
from tests.conftest import seasonal_frame


@pytest.mark.parametrize("scaler", ["window", "standard"])
def test_a_validation_window_is_built_as_predict_builds_the_history_before_it(tmp_path,
                                                                             scaler):
    frame = seasonal_frame(n_series=3, length=40, freq="D")  # calendar inputs too
    frame["promo"] = np.arange(len(frame)) % 5  # and a feature
    data = tmp_path / "daily.csv"
    frame.to_csv(data, index=False)
    cfg = FitConfig(window=10, horizon=4, val_windows=3, hidden=4, max_steps=2,
                    features=("promo",), scaler=scaler)
    fitted = api.fit(data, cfg).artifact
    ready = api.prepare(read_panel(data, cfg), cfg)
    assert ready.calendar == ("weekday", "month") and ready.cfg == fitted.config
    data_on_device = train.TrainingData(
        values=torch.from_numpy(ready.values), indptr=torch.from_numpy(ready.panel.indptr),
        window=10, horizon=4, n_targets=1, known_from=ready.panel.values.shape[1],
        window_floor=scaling.window_floor(ready.stats))
    validation = train.Windows.from_index(ready.split.val, torch.device("cpu"))
    for s in range(3):
        last = int(torch.nonzero(validation.series == s).max())  # its last validation window
        trained, *_ = data_on_device.batch(validation, torch.tensor([last]))
        origin = int(validation.origins[last]) - int(ready.panel.indptr[s])
        history = truncate(select(ready.panel, np.array([s])), np.array([origin]))
        inputs = forecast.model_inputs(fitted, history, torch.device("cpu"))
        predicted = forecast.last_windows(fitted, inputs, 0, 1).inputs
        assert torch.equal(trained, predicted), s


def test_steps_before_a_series_starts_are_zeros_marked_by_the_mask():
    values = torch.arange(1.0, 7.0).reshape(6, 1)  # two series of 3 rows: 1 2 3 | 4 5 6
    indptr = torch.tensor([0, 3, 6])
    encoded = encode(values, indptr, torch.tensor([3, 5]), torch.tensor([0, 1]), window=4,
                     n_targets=1, floor=None)
    assert encoded.raw[..., 0].tolist() == [[0, 1, 2, 3], [0, 0, 4, 5]]
    assert encoded.mask.tolist() == [[False, True, True, True], [False, False, True, True]]
    assert torch.equal(encoded.inputs, encoder_inputs(encoded.raw, encoded.mask))
    assert encoded.loc is None and encoded.scale is None
    scaled = encode(values, indptr, torch.tensor([3]), torch.tensor([0]), window=4,
                    n_targets=1, floor=0.1)
    # the observed steps 1, 2, 3: mean 2, spread sqrt(2/3); the padded step stays 0
    spread = (2 / 3) ** 0.5
    assert scaled.loc.item() == 2 and scaled.scale.item() == pytest.approx(spread)
    assert scaled.inputs[0, :, 0].tolist() == pytest.approx([0, -1 / spread, 0, 1 / spread])
