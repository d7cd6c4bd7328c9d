"""Static features as model inputs: each series' categories as level numbers (0 for a level
or series the model never saw), its numeric attributes scaled across the training series,
and its id's level when the model learns an embedding of the ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecastr.data.panel import Panel, shown_id
from forecastr.errors import DataError

UNKNOWN = 0  # the level of a category (or series) not seen in training


@dataclass(frozen=True)
class StaticStats:
    """What fit learns of the static features, in the order of Schema.static_features."""

    levels: dict[str, list[str]]  # categorical feature -> its levels seen in training
    numeric: dict[str, list[float]]  # numeric feature -> [mean, spread] across series

    def as_dict(self) -> dict[str, dict]:
        return {"levels": self.levels, "numeric": self.numeric}


def fit(panel: Panel) -> StaticStats:
    """A feature is numeric when every value it has is a number, categorical otherwise."""
    return fit_values(panel.static, panel.schema.static_features)


# magnitude above which a feature's mean and spread are computed on its values scaled down
LARGE = 1e100


def fit_values(static: dict[str, np.ndarray], names: tuple[str, ...]) -> StaticStats:
    """fit for the static features `names` of some series (`static`: Panel.static), such as
    those of every process of a distributed fit put together."""
    levels, numeric = {}, {}
    for name in names:
        values = static[name]
        numbers = _numbers(values)
        if numbers is not None and not np.isnan(numbers).all():
            numeric[name] = _mean_and_spread(numbers[~np.isnan(numbers)])
        else:
            levels[name] = sorted({str(v) for v in values if v is not None})
    return StaticStats(levels, numeric)


def _mean_and_spread(values: np.ndarray) -> list[float]:
    """The mean and standard deviation of a numeric feature's values, on values divided by
    their largest magnitude when that is large (squares of values near 1e200 overflow, which
    gave an infinite spread); a spread too small to divide by (0, or below float64's
    smallest normal number) reads as 1."""
    largest = float(np.abs(values).max())
    unit = largest if largest > LARGE else 1.0
    scaled = values / unit
    mean, spread = float(scaled.mean()) * unit, float(scaled.std()) * unit
    return [mean, spread if spread >= np.finfo(np.float64).tiny else 1.0]


def embedding_levels(stats: StaticStats | None, n_ids: int | None) -> tuple[int, ...]:
    """Levels of each embedding, the unknown one included, in encode's order: the categorical
    features', then the ids' when there are `n_ids` of them to embed."""
    ids = (n_ids + 1,) if n_ids is not None else ()
    return tuple(len(known) + 1 for known in (stats.levels.values() if stats else ())) + ids


def encode(panel: Panel, stats: StaticStats | None, id_rows: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """codes (S, G) int64, the level of each categorical feature (then of the id, when
    `id_rows`, each series' row in training or -1, is given), and numbers (S, Z) float32;
    `stats` None: no static features."""
    stats = stats or StaticStats({}, {})
    columns = []
    for name, known in stats.levels.items():
        number = {level: i + 1 for i, level in enumerate(known)}  # 0 is UNKNOWN
        columns.append([number.get(v, UNKNOWN) if v is not None else UNKNOWN
                        for v in panel.static[name]])
    if id_rows is not None:
        columns.append(id_rows + 1)  # -1, a series never seen, becomes UNKNOWN
    codes = np.array(columns, dtype=np.int64).T.reshape(panel.n_series, len(columns))
    numbers = np.zeros((panel.n_series, len(stats.numeric)), np.float32)
    for j, (name, (mean, spread)) in enumerate(stats.numeric.items()):
        values = _numbers(panel.static[name])
        if values is None:
            s = next(s for s, v in enumerate(panel.static[name]) if _numbers([v]) is None)
            raise DataError(f"{panel.source}: static feature {name!r} of series "
                            f"{shown_id(panel.ids[s])} is {panel.static[name][s]!r}, not a number "
                            f"as in the data the model was fitted on")
        if np.isnan(values).any():
            s = int(np.argmax(np.isnan(values)))
            raise DataError(f"{panel.source}: series {shown_id(panel.ids[s])} has no value of the "
                            f"numeric static feature {name!r}; give it one in some row")
        with np.errstate(over="ignore", invalid="ignore"):
            numbers[:, j] = (values - mean) / spread
        if not np.isfinite(numbers[:, j]).all():  # only a damaged model file's scale does it
            s = int(np.argmax(~np.isfinite(numbers[:, j])))
            raise DataError(f"{panel.source}: static feature {name!r} of series "
                            f"{shown_id(panel.ids[s])} ({values[s]:g}) is out of reach of the "
                            f"model's scale for it (mean {mean:g}, spread {spread:g})")
    return codes, numbers


def _numbers(values: np.ndarray | list) -> np.ndarray | None:
    """The values as float64 (NaN where empty), or None when one is not a number."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            out[i] = float(value)
        except ValueError:
            return None
        if not np.isfinite(out[i]):
            return None
    return out

