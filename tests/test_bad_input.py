"""Bad input to every command: each class of bad file, flag, config or model file ends in one
line on stderr that names the file (and the column, line, series or flag) and says what to do,
with exit status 2, no traceback, nothing on stdout, and every output file left as it was."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from forecastr import api
from forecastr.config import FitConfig
from tests.conftest import CliResult, run_cli, seasonal_frame

COMMANDS = ("inspect", "fit", "predict", "evaluate")
FROM_DATA = ("inspect", "fit")  # commands whose data options come from flags
FROM_MODEL = ("predict", "evaluate")  # commands that read DATA the way the model was fitted
WINDOWS = ["--window", "12", "--horizon", "4"]
TINY = ["--hidden", "4", "--layers", "1", "--epochs", "1", "--val-windows", "1", *WINDOWS]
SENTINEL = b"previous output \x00\xff: must survive a failed run\n"
OUTPUTS = {"fit": "model.fcst", "predict": "forecast.csv", "evaluate": "backtest.png"}

GOOD = seasonal_frame().to_csv(index=False)  # long: unique_id, ds, y; 3 monthly series of 60
LINES = GOOD.splitlines()


def with_line(number: int, text: str) -> str:
    """GOOD with file line `number` (1 = the header) replaced."""
    lines = list(LINES)
    lines[number - 1] = text
    return "\n".join(lines) + "\n"


def rows(header: str, cells: list[str]) -> str:
    return header + "\n" + "".join(f"{cell}\n" for cell in cells)


MONTHS = [f"2000-{m:02d}-01" for m in range(1, 13)]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny model (monthly, long, window 12, horizon 4), fitted once for the module."""
    folder = tmp_path_factory.mktemp("model")
    data = folder / "train.csv"
    data.write_text(GOOD)
    path = folder / "m.fcst"
    api.fit(data, FitConfig(hidden=4, layers=1, epochs=1, window=12, horizon=4, val_windows=1),
            path)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder holding every command's output file, with sentinel bytes in each."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name in OUTPUTS.values():
        (folder / name).write_bytes(SENTINEL)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def command(name: str, data: Path | str, model: Path, out: Path) -> list[str | Path]:
    """The command line of `name` on DATA, writing its output file (if any) into `out`."""
    return {
        "inspect": ["inspect", data, *WINDOWS],
        "fit": ["fit", data, "-o", out / OUTPUTS["fit"], *TINY],
        "predict": ["predict", model, data, "-o", out / OUTPUTS["predict"]],
        "evaluate": ["evaluate", model, data, "--plot", out / OUTPUTS["evaluate"]],
        "info": ["info", model],
    }[name]


def assert_refused(result: CliResult, out: Path | None, *phrases: str | Path,
                   report_first: bool = False) -> str:
    """Exit 2 with exactly one error line holding every phrase; no traceback; stdout empty
    (unless the command reports first); `out` exactly as the sentinel fixture left it."""
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    line = result.stderr.rstrip("\n")
    assert line.startswith("forecastr: error: ") and line != "forecastr: error: ", line
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert str(phrase) in line, f"{phrase!r} not in {line!r}"
    assert bool(result.stdout) is report_first, result.stdout
    if out is not None:
        assert snapshot(out) == {name: SENTINEL for name in sorted(OUTPUTS.values())}
        assert not list(out.glob(".*.tmp")) and not list(out.glob(".*.check"))
    return line


# --- bad data: every command that reads DATA ----------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A bad DATA file: its bytes (or how to make the path), and what each command says."""

    content: str | bytes | Callable[[Path], Path]
    says: tuple[str, ...]  # in the message of every command
    data_says: tuple[str, ...] = ()  # ... of inspect and fit only
    model_says: tuple[str, ...] = ()  # ... of predict and evaluate only
    flags: tuple[str, ...] = ()  # extra flags for inspect and fit
    commands: tuple[str, ...] = COMMANDS


def missing(folder: Path) -> Path:
    return folder / "missing.csv"


def through_a_file(folder: Path) -> Path:
    """Reading it fails with ENOTDIR even as root, where chmod 000 would not stop a read."""
    (folder / "file.csv").write_text(GOOD)
    return folder / "file.csv" / "x.csv"


def directory(folder: Path) -> Path:
    (folder / "folder.csv").mkdir()
    return folder / "folder.csv"


MIXED_ZONES = rows("unique_id,ds,y", [f"s0,{month}T00:00{'+01:00' if m % 2 else '+02:00'},{m}"
                                      for m, month in enumerate(MONTHS)])
BAD_DATA = {
    "missing-file": Bad(missing, ("no such file", "check the path")),
    "unreadable-file": Bad(through_a_file, ("cannot read file (Not a directory)",
                                            "check the path")),
    "empty-file": Bad("", ("file is empty", "give a CSV with a header line")),
    "directory": Bad(directory, ("is a directory, not a CSV file", "give the path of a file")),
    "binary": Bad(b"\x00\x01\x02\x03 PK\x05\x06\x00" * 20, ("binary data, not CSV text",)),
    "not-utf8": Bad(with_line(3, "s\xe9,2000-02-01,1").encode("latin-1"),
                    ("line 3", "not UTF-8", "0xe9", "iconv")),
    "truncated-gzip": Bad(gzip.compress(GOOD.encode())[:80], ("truncated or corrupt gzip",
                                                              "gzip -t")),
    "ragged-rows": Bad(with_line(6, LINES[5] + ",9"), ("line 6", "4 fields", "3 columns",
                                                       "fix that row")),
    "header-only": Bad(LINES[0] + "\n", ("header but no data rows", "add the data")),
    "duplicate-columns": Bad(rows("unique_id,ds,y,y", [f"{line},1" for line in LINES[1:]]),
                             ("duplicate column name 'y'", "rename one")),
    "no-time-column": Bad(GOOD.replace("unique_id,ds,y", "unique_id,date,y"),
                          ("no column 'ds'", "the columns are unique_id, date, y"),
                          data_says=("(the time column, --time-col)",),
                          model_says=("(the time column of model {model})", "columns the model"),
                          flags=("--time-col", "ds")),
    "no-value-column": Bad(rows("unique_id,ds", [line.rsplit(",", 1)[0] for line in LINES[1:]]),
                           ("unique_id, ds",),
                           data_says=("no numeric value column", "--target"),
                           model_says=("no column 'y' (the target of model {model})",)),
    "unparseable-date": Bad(with_line(5, "s0,2000-13-45,1"),
                            ("column 'ds'", "line 5", "'2000-13-45'", "fix the cell")),
    "mixed-time-zones": Bad(MIXED_ZONES, ("column 'ds'", "mix time zones", "--utc"),
                            model_says=("a fit option", "fix DATA or refit")),
    "non-numeric-value": Bad(with_line(5, "s0,2000-04-01,oops"),
                             ("line 5", "column 'y'", "'oops'", "not a number", "fix the cell")),
    "infinite-value": Bad(with_line(5, "s0,2000-04-01,-inf"),
                          ("line 5", "column 'y'", "infinite", "fix the cell")),
    "all-nan-values": Bad(rows("unique_id,ds,y", [line.rsplit(",", 1)[0] + ","
                                                  for line in LINES[1:]]),
                          ("no values in 'y'", "every cell is empty")),
    "duplicate-timestamps": Bad(with_line(5, "s0,2000-03-01,1"),
                                ("column 'ds'", "lines 4 and 5", "series 's0'", "--duplicates"),
                                model_says=("a fit option",)),
    # the model's monthly grid floors these days onto one month: duplicates, not a guess
    "irregular-frequency": Bad(rows("unique_id,ds,y", [
        "s0,2000-01-01,1", "s0,2000-01-02,2", "s0,2000-01-05,3", "s0,2000-01-17,4",
        "s0,2000-02-09,5"]), ("column 'ds'", "series 's0'"),
        data_says=("cannot infer a regular frequency", "--freq"),
        model_says=("has two rows at 2000-01-01", "a fit option")),
    # predict left-pads short series by design (tests/test_predict.py)
    "too-short": Bad(rows("unique_id,ds,y", [f"s0,{month},1" for month in MONTHS[:3]]),
                     ("no series is long enough", "'s0'", "has 3 points"),
                     data_says=("at least 5 are needed",), model_says=("at least 6 are needed",),
                     commands=("inspect", "fit", "evaluate")),
    "other-target": Bad(GOOD.replace("unique_id,ds,y", "unique_id,ds,sales"),
                        ("no column 'y' (the target of model {model})", "unique_id, ds, sales"),
                        commands=FROM_MODEL),
    "other-frequency": Bad(rows("unique_id,ds,y", [f"s0,2000-01-{d:02d},{d}"
                                                   for d in range(1, 29)]),
                           ("data are at frequency D but {model} was fitted at MS",
                            "give DATA at MS"),
                           commands=FROM_MODEL),
    "other-layout": Bad(rows("ds,a,b", [f"{month},1,2" for month in MONTHS]),
                        ("no column 'unique_id' (the id column of model {model})",
                         "the columns are ds, a, b"),
                        commands=FROM_MODEL),
}
DATA_CASES = [(case, name) for case, bad in BAD_DATA.items() for name in bad.commands]


def bad_file(bad: Bad, folder: Path) -> Path:
    if callable(bad.content):
        return bad.content(folder)
    path = folder / "data.csv"
    path.write_bytes(bad.content if isinstance(bad.content, bytes) else bad.content.encode())
    return path


@pytest.mark.parametrize(("case", "name"), DATA_CASES, ids=[f"{c}-{n}" for c, n in DATA_CASES])
def test_bad_data(case: str, name: str, model: Path, out: Path, tmp_path: Path):
    bad = BAD_DATA[case]
    data = bad_file(bad, tmp_path)
    args = command(name, data, model, out)
    args += list(bad.flags) if name in FROM_DATA else []
    says = bad.says + (bad.data_says if name in FROM_DATA else bad.model_says)
    # inspect still reports what it read when only the windows fail (see test_cli.py)
    report_first = name == "inspect" and case == "too-short"
    assert_refused(run_cli(args), out, data, *[p.format(model=model) for p in says],
                   report_first=report_first)


def test_bad_data_on_stdin_is_named_stdin(model: Path, out: Path):
    for name in COMMANDS:
        args = [a if a != "DATA" else "-" for a in command(name, "DATA", model, out)]
        result = run_cli(args, input=b"\x00\x01binary\x00")
        assert_refused(result, out, "<stdin>: binary data")


def test_debug_shows_the_traceback(model: Path, out: Path, tmp_path: Path):
    data = bad_file(BAD_DATA["non-numeric-value"], tmp_path)
    result = run_cli([*command("predict", data, model, out), "--debug"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"forecastr: error: {data}, line 5")
    assert snapshot(out)[OUTPUTS["predict"]] == SENTINEL


# --- bad flags ----------------------------------------------------------------------------

FLAGS = [  # (command, flags, phrases)
    ("inspect", ["--window", "-1"], ["--window must be at least 1, got -1"]),
    ("fit", ["--window", "-1"], ["--window must be at least 1, got -1"]),
    ("fit", ["--hidden", "0"], ["--hidden must be at least 1, got 0"]),
    ("fit", ["--dropout", "1.0"], ["--dropout must be in [0, 1), got 1.0"]),
    ("fit", ["--dropout", "-0.1"], ["--dropout must be in [0, 1), got -0.1"]),
    ("fit", ["--cell", "transformer"], ["'--cell'", "'transformer' is not one of",
                                        "'rnn', 'lstm', 'gru'", "(see 'forecastr fit --help')"]),
    ("fit", ["--device", "tpu"], ["--device must be auto, cpu, cuda or cuda:N; got 'tpu'"]),
    ("predict", ["--device", "tpu"], ["--device must be auto, cpu, cuda or cuda:N; got 'tpu'"]),
    ("evaluate", ["--device", "tpu"], ["--device must be auto, cpu, cuda or cuda:N; got 'tpu'"]),
    ("predict", ["--horizon", "5"], ["--horizon must be between 1 and 4", "{model}",
                                     "got 5", "longer --horizon"]),
    ("evaluate", ["--horizon", "5"], ["--horizon must be at most 4", "{model}", "got 5",
                                      "longer --horizon"]),
    ("predict", ["--horizon", "0"], ["'--horizon'", "0 is not in the range x>=1",
                                     "(see 'forecastr predict --help')"]),
    ("evaluate", ["--folds", "0"], ["'--folds'", "(see 'forecastr evaluate --help')"]),
    ("inspect", ["--fill", "cubic"], ["'--fill'", "'cubic' is not one of",
                                      "(see 'forecastr inspect --help')"]),
    ("predict", ["--format", "xml"], ["'--format'", "(see 'forecastr predict --help')"]),
    ("fit", ["--no-such-flag"], ["No such option", "(see 'forecastr fit --help')"]),
]


@pytest.mark.parametrize(("name", "flags", "phrases"), FLAGS,
                         ids=[f"{n}{''.join(f)}" for n, f, _ in FLAGS])
def test_bad_flag(name: str, flags: list[str], phrases: list[str], model: Path, out: Path,
                  tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_text(GOOD)
    result = run_cli([*command(name, data, model, out), *flags])
    assert_refused(result, out, *[p.format(model=model) for p in phrases])


@pytest.mark.parametrize("name", ["fit", "predict", "evaluate"])
def test_cuda_asked_for_without_cuda(name: str, model: Path, out: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = tmp_path / "data.csv"
    data.write_text(GOOD)
    result = run_cli([*command(name, data, model, out), "--device", "cuda"])
    assert_refused(result, out, "--device cuda: torch sees no CUDA GPU", "use --device cpu")


def test_usage_errors_are_one_line_naming_the_command():
    for args, phrases in [(["fit", "--cell"], ["'--cell' requires an argument", "fit --help"]),
                          (["evaluate", "m.fcst"], ["Missing argument 'DATA'", "evaluate --help"]),
                          (["frobnicate"], ["No such command 'frobnicate'", "'forecastr --help'"]),
                          (["info"], ["Missing argument 'MODEL'", "info --help"])]:
        assert_refused(run_cli(args), None, *phrases)


# --- bad --config files -------------------------------------------------------------------

CONFIGS = {  # id: (YAML text, or None for no file, phrases)
    "syntax-error": ("window: [12\n", ["YAML syntax error at line 2"]),
    "unknown-key": ("hiden: 4\n", ["unknown key 'hiden' (did you mean 'hidden'?)"]),
    "unknown-key-no-match": ("colour: red\n", ["unknown key 'colour'", "--print-config"]),
    "wrong-type": ("window: twelve\n", ["'window' must be an integer, got 'twelve'"]),
    "wrong-choice": ("cell: transformer\n", ["'cell' must be one of rnn, lstm, gru"]),
    "out-of-range": ("dropout: 1.0\n", ["--dropout must be in [0, 1), got 1.0"]),
    "both-target-and-feature": ("targets: [y]\nfeatures: [y]\n", ["'y' is given both"]),
    "not-a-mapping": ("- window\n- 12\n", ["must be a mapping of option: value, got list"]),
    "not-utf8": ("cell: gr\xfc\n".encode("latin-1"), ["not UTF-8", "save it as UTF-8"]),
    "missing-file": (None, ["cannot read config file (No such file or directory)",
                            "check the path"]),
}
CONFIG_CASES = [(case, name) for case in CONFIGS for name in FROM_DATA]


@pytest.mark.parametrize(("case", "name"), CONFIG_CASES,
                         ids=[f"{c}-{n}" for c, n in CONFIG_CASES])
def test_bad_config_file(case: str, name: str, model: Path, out: Path, tmp_path: Path):
    text, phrases = CONFIGS[case]
    config = tmp_path / "fit.yaml"
    if text is not None:
        config.write_bytes(text if isinstance(text, bytes) else text.encode())
    data = tmp_path / "data.csv"
    data.write_text(GOOD)
    result = run_cli([*command(name, data, model, out), "--config", config])
    assert_refused(result, out, config, *phrases)


# --- files that are not models ------------------------------------------------------------
# (hostile and damaged model files are tests/test_artifact.py's)

NOT_MODELS = {
    "csv-text": (lambda folder: folder / "m.fcst", GOOD.encode(), "not a forecastr model"),
    "empty": (lambda folder: folder / "m.fcst", b"", "model file"),
    "directory": (lambda folder: folder, None, "is a directory"),
    "missing": (lambda folder: folder / "missing.fcst", None, "no such model file"),
}
MODEL_CASES = [(case, name) for case in NOT_MODELS for name in ("predict", "evaluate", "info")]


@pytest.mark.parametrize(("case", "name"), MODEL_CASES, ids=[f"{c}-{n}" for c, n in MODEL_CASES])
def test_not_a_model_file(case: str, name: str, out: Path, tmp_path: Path):
    where, content, phrase = NOT_MODELS[case]
    folder = tmp_path / "models"
    folder.mkdir()
    path = where(folder)
    if content is not None:
        path.write_bytes(content)
    data = tmp_path / "data.csv"
    data.write_text(GOOD)
    assert_refused(run_cli(command(name, data, path, out)), out, path, phrase)
