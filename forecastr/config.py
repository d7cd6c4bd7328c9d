"""FitConfig: every option of reading, windowing and fitting, with its default and help.

YAML keys, CLI flags and attribute names are the same words (`val_windows:` in YAML is
`--val-windows` on the command line). This module imports neither torch nor pandas.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from forecastr.errors import ConfigError

FillPolicy = Literal["linear", "ffill", "zero", "error"]
DuplicatePolicy = Literal["error", "first", "last", "mean", "sum"]
ScalerKind = Literal["standard", "minmax", "none", "window"]
Cell = Literal["rnn", "lstm", "gru"]
Mode = Literal["many-to-one", "many-to-many"]
Nonlinearity = Literal["tanh", "relu"]
Loss = Literal["mse", "mae", "huber"]
Precision = Literal["auto", "32", "bf16", "16"]
IntervalMethod = Literal["conformal", "quantile"]
Baseline = Literal["seasonal-naive", "theta", "none"]
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
# The most steps a window or horizon may have. Far past what a recurrent network can learn
# from, yet it bounds what a model file can make predict allocate (series x window).
MAX_STEPS = 100_000
MAX_EMBEDDING = 1024  # numbers per id: far more than any panel needs


def option(default: Any, help: str, group: str, flag: str | None = None) -> Any:
    """A dataclass field carrying its help text, its option group and (rarely) its flag name."""
    return field(default=default, metadata={"help": help, "group": group, "flag": flag})


@dataclass(frozen=True)
class FitConfig:
    """Every option that shapes how a panel is read, windowed and (later) fitted."""

    # data
    time_col: str | None = option(
        None, "Time column (default: detected; 'ds' in long files).", "data")
    id_col: str | None = option(
        None, "Series id column of a long file (default: 'unique_id' when present).", "data")
    targets: tuple[str, ...] = option(
        (), "Column(s) to forecast; repeat or comma-separate (default: every numeric column, "
        "or 'y' in long files).", "data", flag="target")
    features: tuple[str, ...] = option(
        (), "Extra numeric columns fed to the model but not forecast (past covariates); "
        "repeat or comma-separate.", "data")
    future_features: tuple[str, ...] = option(
        (), "Numeric columns known ahead for the forecast steps too (promotions, prices, "
        "holidays, weather forecasts); predict reads their future values from rows past the "
        "end of DATA (with an empty target) or from --future FILE; repeat or comma-separate.",
        "data")
    static_features: tuple[str, ...] = option(
        (), "Columns of a long file that hold one value per series (store, region, "
        "category, size): text columns are categories the model learns an embedding of, "
        "numeric ones are scaled across series; repeat or comma-separate.", "data")
    freq: str | None = option(
        None, "Pandas frequency alias such as D, h, W-SUN, MS (default: inferred). Off-grid "
        "timestamps are floored onto it.", "data")
    fill: FillPolicy = option(
        "linear", "How to fill interior gaps (missing rows or empty cells).", "data")
    duplicates: DuplicatePolicy = option(
        "error", "How to combine rows of one series that share a timestamp.", "data")
    utc: bool = option(
        False, "Convert all timestamps to UTC (needed when a time column mixes time zones).",
        "data")
    dayfirst: bool | None = option(
        None, "Read dates such as 01/02/2020 day first (1 February) or, with --no-dayfirst, "
        "month first (January 2) (default: decided from the whole column: a first field "
        "above 12 means day first, a second one month first; when no value decides it, "
        "the reading that gives the more regular series).", "data")
    date_format: str | None = option(
        None, "strftime format of the time column, e.g. %d.%m.%Y %H:%M (default: detected).",
        "data")
    calendar: bool | None = option(
        None, "Add calendar inputs (hour of day, day of week, month... as the frequency "
        "allows); they are known for future steps too (default: on for hourly and daily "
        "data, off for weekly and coarser).", "data")
    # windows
    window: int | None = option(
        None, "Input window length L: steps the model sees (default: a few seasons of the "
        "inferred frequency, e.g. 36 for monthly, 168 for hourly).", "windows")
    horizon: int | None = option(
        None, "Forecast horizon H: steps predicted at once (default: by frequency, e.g. 18 "
        "for monthly, 48 for hourly).", "windows")
    stride: int = option(1, "Steps between the starts of consecutive windows.", "windows")
    val_windows: int = option(
        12, "Validation windows cut from the tail of each series (0 = no validation); early "
        "stopping and the choice of the best epoch watch their loss (where they outnumber "
        "--epoch-size, an evenly spread sample of that many).", "windows")
    scaler: ScalerKind = option(
        "window", "Scaling: per series (standard, minmax) fitted on the training span, "
        "per input window (window), or none.", "windows")
    # model
    cell: Cell = option("gru", "Recurrent cell.", "model")
    mode: Mode = option(
        "many-to-one", "many-to-one: the final state predicts the whole horizon at once; "
        "many-to-many: a recurrent decoder unrolls over the horizon.", "model")
    layers: int = option(1, "Stacked recurrent layers.", "model")
    hidden: int = option(64, "Hidden units per layer.", "model")
    dropout: float = option(0.1, "Dropout between layers and before the output.", "model")
    id_embedding: int = option(
        0, "Learn an embedding of this many numbers for each series id, an input that tells "
        "the series apart (0 = off); series the model never saw read the embedding of an "
        "unknown one, which training learns too.", "model")
    segment: int | None = option(
        None, "Steps per segment of the input window (segment-wise recurrence, as in SegRNN): "
        "each segment of P steps is embedded by a linear layer and the recurrent encoder "
        "runs over L/P segments instead of L steps, which makes long windows train many "
        "times faster; a window that is not a multiple of P is padded at its start "
        "(1 = step by step; default: a day of steps for half-hourly and finer data, where "
        "bench/segments.py found it both faster and more accurate, and 1 otherwise).",
        "model")
    bidirectional: bool = option(
        False, "Read the input window in both directions.", "model")
    nonlinearity: Nonlinearity = option("tanh", "Nonlinearity of the vanilla rnn cell.", "model")
    quantiles: tuple[float, ...] = option(
        (), "Quantiles to forecast as well as the point, e.g. 0.1,0.9 (each in (0, 1)); the "
        "model then trains on the pinball loss (--loss is not used) and predict writes a "
        "column per quantile. The median is always trained and is the point forecast.",
        "model")
    intervals: tuple[float, ...] = option(
        (), "Central prediction intervals to forecast, in percent, e.g. 80,95; predict "
        "writes <target>-lo-80 and <target>-hi-80 columns.", "model")
    interval_method: IntervalMethod = option(
        "quantile", "How intervals are made: quantile (the quantile head's (1 - level) / 2 "
        "and (1 + level) / 2 quantiles; the better calibrated on the sample data) or "
        "conformal (split-conformal widths from the validation windows' errors).", "model")
    ensemble: int = option(
        1, "Networks in the ensemble: trained side by side from different random starts on "
        "the same batches; the forecast is their median.", "model")
    baseline: Baseline | None = option(
        None, "What the network's output is added to, so that the network learns what that "
        "forecast misses and starts from it: seasonal-naive (each horizon step repeats the "
        "window's value one season earlier; the last value for non-seasonal data), theta "
        "(the Theta method's forecast of each window: exponential smoothing with half the "
        "linear trend's slope, the season removed where it is significant), or none "
        "(default: theta for yearly and rarer data, integer steps and data finer than daily; "
        "seasonal-naive otherwise).", "model")
    highway: bool | None = option(
        None, "Add a linear map from the window's scaled targets straight to the horizon, an "
        "autoregressive shortcut beside the recurrent network (default: on for weekly and "
        "coarser data, off for daily and finer).", "model")
    # training
    loss: Loss | None = option(
        None, "Training loss on scaled values (default: mae for yearly and rarer data, "
        "huber otherwise).", "training")
    lr: float = option(1e-3, "Adam learning rate (halved when validation stalls).", "training")
    epochs: int = option(100, "Upper bound on training epochs.", "training")
    max_steps: int = option(
        1000, "Upper bound on optimizer steps (batches), whatever the data's size "
        "(0 = no bound).", "training")
    max_time: float = option(
        0.0, "Upper bound on training time in seconds; training stops after the batch that "
        "passes it (0 = no bound).", "training")
    batch_size: int = option(
        256, "Windows per batch (at most the number of training windows).", "training")
    epoch_size: int = option(
        4096, "Training windows drawn at random for each epoch, between two validations; "
        "small data are drawn several times over (0 = every window once).", "training")
    patience: int = option(
        10, "Stop after this many epochs without a better validation loss.", "training")
    clip: float = option(
        1.0, "Clip the gradient norm to this value against exploding gradients (0 = off).",
        "training")
    teacher_forcing: float = option(
        0.5, "Share of many-to-many training batches whose decoder reads the true previous "
        "value instead of its own forecast.", "training")
    seed: int = option(0, "Random seed; the same seed reproduces a CPU run exactly.", "training")
    # system
    device: str = option("auto", "auto (CUDA when available), cpu, cuda or cuda:N.", "system")
    precision: Precision = option(
        "auto", "Float precision on CUDA: auto (bf16 where supported), 32, bf16 or 16; the CPU "
        "always uses 32.", "system")
    threads: int | None = option(
        None, "CPU threads torch computes with in each process (default: 1, which keeps a "
        "fit fast beside other work; on a machine known to be idle, 2 or more can train "
        "larger models faster; never more than the CPUs the affinity mask and cgroup quota "
        "allow, shared out among --nproc processes); OMP_NUM_THREADS, when set, wins.",
        "system")

    def __post_init__(self) -> None:
        validate(self)


def flag_name(f: dataclasses.Field) -> str:
    """The command-line flag of a config field, without dashes: `val_windows` -> `val-windows`."""
    return (f.metadata.get("flag") or f.name).replace("_", "-")


@functools.cache
def field_types() -> dict[str, Any]:
    """Resolved type annotations of FitConfig's fields (they are strings under __future__);
    cached, since every FitConfig validates against them."""
    return typing.get_type_hints(FitConfig)


def choices(annotation: Any) -> tuple[str, ...] | None:
    """The allowed values of a Literal annotation (or of `Literal[...] | None`), or None for
    any other type."""
    literals = [a for a in (typing.get_args(annotation) or ()) if typing.get_origin(a) is Literal]
    if typing.get_origin(annotation) is not Literal and len(literals) == 1:
        return typing.get_args(literals[0])
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else None


def base_type(annotation: Any) -> type:
    """bool, int, float, str or tuple: the plain type behind `X | None` and `tuple[str, ...]`."""
    if typing.get_origin(annotation) is tuple or choices(annotation):
        return tuple if typing.get_origin(annotation) is tuple else str
    args = set(typing.get_args(annotation)) or {annotation}
    return next(a for a in (bool, int, float, str) if a in args)


def at_least_one(**counts: int | None) -> None:
    """Counts given as keywords (the flags' names) are at least 1, or None (unset): the
    checks of command options that are not FitConfig fields."""
    for name, count in counts.items():
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 1):
            raise ConfigError(f"--{name} must be a whole number of at least 1, got {count!r}")


def one_of(**values: tuple[str, Any]) -> None:
    """Each keyword's value is one of its Literal type's choices."""
    for name, (value, allowed) in values.items():
        if value not in typing.get_args(allowed):
            raise ConfigError(f"--{name.replace('_', '-')} must be one of "
                              f"{', '.join(typing.get_args(allowed))}; got {value!r}")


def validate(cfg: FitConfig) -> None:
    """Raise ConfigError naming the flag of the first out-of-range value."""
    types = field_types()
    _check_choices(cfg, types)
    _check_counts(cfg)
    _check_numbers(cfg, types)
    _check_outputs(cfg)
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.teacher_forcing <= 1:
        raise ConfigError(f"--teacher-forcing must be in [0, 1], got {cfg.teacher_forcing}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be above 0, got {cfg.lr}")
    if not DEVICE_PATTERN.match(cfg.device):
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N; got {cfg.device!r}")
    _check_columns(cfg)


def _check_choices(cfg: FitConfig, types: dict[str, Any]) -> None:
    for f in dataclasses.fields(cfg):
        allowed = choices(types[f.name])
        value = getattr(cfg, f.name)
        optional = type(None) in typing.get_args(types[f.name])
        if allowed is not None and value not in allowed and not (optional and value is None):
            raise ConfigError(
                f"--{flag_name(f)} must be one of {', '.join(allowed)}; got {value!r}")


def _check_counts(cfg: FitConfig) -> None:
    """Steps, sizes and counts: at least 1, and no more than a model file may ask for."""
    for name in ("window", "horizon", "stride", "layers", "hidden", "ensemble", "epochs",
                 "batch_size", "patience", "segment", "threads"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if cfg.segment is not None and (cfg.segment > MAX_STEPS or cfg.window is not None
                                    and cfg.segment > cfg.window):
        raise ConfigError(f"--segment must be at most the window ({cfg.window or MAX_STEPS:,} "
                          f"steps), got {cfg.segment:,}")
    if cfg.id_embedding > MAX_EMBEDDING:
        raise ConfigError(f"--id-embedding must be at most {MAX_EMBEDDING}, got "
                          f"{cfg.id_embedding}")
    for name in ("window", "horizon"):
        value = getattr(cfg, name)
        if value is not None and value > MAX_STEPS:
            raise ConfigError(f"--{name} must be at most {MAX_STEPS:,}, got {value:,}")


def _check_numbers(cfg: FitConfig, types: dict[str, Any]) -> None:
    """Every float finite; seeds, bounds and limits 0 or more."""
    for f in dataclasses.fields(cfg):
        if base_type(types[f.name]) is float and not math.isfinite(getattr(cfg, f.name)):
            raise ConfigError(f"--{flag_name(f)} must be a finite number, got "
                              f"{getattr(cfg, f.name)}")
    for name in ("val_windows", "seed", "clip", "epoch_size", "max_steps", "max_time",
                 "id_embedding"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be 0 or more, "
                              f"got {getattr(cfg, name)}")


def _check_outputs(cfg: FitConfig) -> None:
    """Quantiles and interval levels: in range, each once, and intervals calibrated on
    something."""
    for q in cfg.quantiles:
        if not 0 < q < 1:
            raise ConfigError(f"--quantiles must each be in (0, 1), got {q}")
    if len(set(cfg.quantiles)) < len(cfg.quantiles):
        raise ConfigError(f"--quantiles lists a quantile twice: {cfg.quantiles}")
    for level in cfg.intervals:
        if not 0 < level < 100:
            raise ConfigError(f"--intervals must each be a percentage in (0, 100), got {level}")
    if len(set(cfg.intervals)) < len(cfg.intervals):
        raise ConfigError(f"--intervals lists a level twice: {cfg.intervals}")
    if cfg.intervals and cfg.interval_method == "conformal" and cfg.val_windows == 0:
        raise ConfigError("--interval-method conformal calibrates on the validation windows; "
                          "give --val-windows 1 or more, or use --interval-method quantile")


def _check_columns(cfg: FitConfig) -> None:
    """Each column in one role, once: a model of a column read twice is one no command can
    load (its schema would name the column twice)."""
    roles = {"--target": cfg.targets, "--features": cfg.features,
             "--future-features": cfg.future_features, "--static-features": cfg.static_features}
    for flag, names in roles.items():
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ConfigError(f"{flag} names column {twice[0]!r} twice: {','.join(names)}")
    for a, b in itertools.combinations(roles, 2):
        if overlap := set(roles[a]) & set(roles[b]):
            raise ConfigError(f"column {sorted(overlap)[0]!r} is given both as {a} and as {b}")
