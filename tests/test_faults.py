"""Faults around output files: a process killed with SIGKILL at a chosen point of the write
leaves the output path holding the previous complete file or the new complete one, and an
output folder that cannot take the file is refused before any work is done."""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import pytest

from forecastr import api
from forecastr.data import writer
from forecastr.errors import OutputError
from forecastr.modelfile import artifact
from forecastr.modelfile.artifact import load
from forecastr.training import fitting, train
from tests.conftest import SAMPLE_DATA, run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = ["--hidden", "8", "--layers", "1", "--window", "8", "--horizon", "3", "--epochs", "1",
        "--device", "cpu"]

# Run in a child process: forecastr's own command, with forecastr.data.writer's view of `os`
# swapped for one that writes the temporary file in 1 KiB chunks that reach the disk one by
# one, and that stops for good at the chosen point (the parent kills it there):
#   write N  - once at least N bytes of the temporary file are on disk
#   fsync    - the whole temporary file written and synced, not yet renamed over the output
#   replace  - just after the rename, the new file in place
CHILD = r"""
import os, sys, time
from pathlib import Path
from forecastr.cli import commands as cli
from forecastr.data import writer

stage, at, flag = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])

def stop():
    flag.touch()
    time.sleep(60)

class ChunkedFile:
    def __init__(self, stream):
        self.stream, self.written = stream, 0
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.stream.close()
    def __getattr__(self, name):
        return getattr(self.stream, name)
    def write(self, data):
        data = bytes(data)
        for start in range(0, len(data), 1024):
            chunk = data[start:start + 1024]
            self.stream.write(chunk)
            self.stream.flush()
            self.written += len(chunk)
            if stage == "write" and self.written >= at:
                stop()
        return len(data)

class StoppingOs:
    def __getattr__(self, name):
        return getattr(os, name)
    def fdopen(self, *args, **kwargs):
        return ChunkedFile(os.fdopen(*args, **kwargs))
    def fsync(self, fd):
        os.fsync(fd)
        if stage == "fsync":
            stop()
    def replace(self, source, target):
        os.replace(source, target)
        if stage == "replace":
            stop()

writer.os = StoppingOs()
cli.main(sys.argv[4:])
"""

Kill = namedtuple("Kill", "output temporary_at_kill left_behind")


def kill_at_stops(command: list[str], outputs: dict[str, Path], at: int) -> dict[str, Kill]:
    """Run `forecastr COMMAND -o OUTPUT` once per stage, each in its own child and folder,
    and SIGKILL each child where it stops."""
    children = {}
    for stage, output in outputs.items():
        flag = output.parent / "stopped"  # the folder holds only the output and this flag
        children[stage] = (flag, subprocess.Popen(
            [sys.executable, "-c", CHILD, stage, str(at), str(flag), *command, "-o",
             str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"}))  # three children share the cores
    kills = {}
    deadline = time.monotonic() + 120
    for stage, (flag, child) in children.items():
        while not flag.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"{stage}: the child did not stop: {child.communicate()[1]!r}")
            time.sleep(0.01)
        output = outputs[stage]
        at_kill = temporaries(output)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        child.stderr.close()
        kills[stage] = Kill(output, at_kill, temporaries(output))
    return kills


def temporaries(output: Path) -> dict[str, int]:
    """Sizes of atomic_write's temporary files for `output` (not for `output`.ckpt)."""
    pattern = rf"\.{re.escape(output.name)}\.[a-z0-9_]+\.tmp"
    return {t.name: t.stat().st_size for t in output.parent.iterdir()
            if re.fullmatch(pattern, t.name)}


def stage_folders(tmp_path: Path, name: str, previous: bytes,
                  stages: tuple[str, ...] = ("write", "fsync", "replace")) -> dict[str, Path]:
    outputs = {}
    for stage in stages:
        (tmp_path / stage).mkdir()
        outputs[stage] = tmp_path / stage / name
        outputs[stage].write_bytes(previous)
    return outputs


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_predict_output_leaves_the_previous_file_or_the_new_one(tmp_path):
    command = ["predict", str(FIXTURES / "model-v1.fcst"), str(SAMPLE_DATA / "long.csv"),
               "--with-history", "--device", "cpu"]
    complete_path = tmp_path / "complete.csv"
    assert run_cli([*command, "-o", complete_path]).exit_code == 0
    complete = complete_path.read_bytes()
    assert len(complete) > 8 * 1024
    previous = b"unique_id,ds,y\nold,2000-01-01,1\n"
    outputs = stage_folders(tmp_path, "forecast.csv", previous)
    middle = len(complete) // 2
    kills = kill_at_stops(command, outputs, middle)
    half = math.ceil(middle / 1024) * 1024  # the end of the 1 KiB chunk that passes the middle
    for stage, size in [("write", half), ("fsync", len(complete))]:
        kill = kills[stage]
        assert list(kill.temporary_at_kill.values()) == [size]
        assert kill.left_behind == kill.temporary_at_kill  # a stale temporary file may stay
        assert kill.output.read_bytes() == previous
    replaced = kills["replace"]
    assert replaced.temporary_at_kill == replaced.left_behind == {}
    assert replaced.output.read_bytes() == complete


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_fit_output_leaves_the_previous_model_or_the_new_one(tmp_path):
    command = ["fit", str(FIXTURES / "series.csv"), *TINY]
    previous = (FIXTURES / "model-v1.fcst").read_bytes()
    # each child costs seconds of imports; the fsync stop is the predict test's alone, since
    # the writer does the same for both and only what fills the file differs
    outputs = stage_folders(tmp_path, "m.fcst", previous, ("write", "replace"))
    kills = kill_at_stops(command, outputs, 2048)
    [written] = kills["write"].temporary_at_kill.values()
    assert 2048 <= written < outputs["replace"].stat().st_size  # torch.save's writes end
    assert kills["write"].left_behind == kills["write"].temporary_at_kill  # where they end
    assert kills["write"].output.read_bytes() == previous
    replaced = kills["replace"]
    assert replaced.temporary_at_kill == replaced.left_behind == {}
    assert load(replaced.output).config.hidden == 8  # whole, and the new model (v1 has 4)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_sigterm_during_predict_output_removes_the_temporary_file(tmp_path):
    """A polite stop (what `kill`, systemd and cron's timeouts send) cleans up after itself:
    status 143, the previous file in place, and no temporary file left behind."""
    output = tmp_path / "forecast.csv"
    output.write_bytes(b"the previous forecast")
    flag = tmp_path / "stopped"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "write", "2048", str(flag), "predict",
         str(FIXTURES / "model-v1.fcst"), str(SAMPLE_DATA / "long.csv"), "--with-history",
         "--device", "cpu", "-o", str(output), "--quiet"], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)  # --quiet: the fixture never saw these series
    deadline = time.monotonic() + 120
    while not flag.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child did not stop: {child.communicate()[1]!r}")
        time.sleep(0.01)
    assert temporaries(output)  # stopped inside the write
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 143 and stderr == "forecastr: terminated\n"
    assert temporaries(output) == {}
    assert output.read_bytes() == b"the previous forecast"


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if fit reads data or trains, or if predict loads its model."""

    def must_not_run(*args, **kwargs):
        pytest.fail("work started before the output folder was checked")

    monkeypatch.setattr(fitting, "read_panel", must_not_run)
    monkeypatch.setattr(train, "train", must_not_run)
    monkeypatch.setattr(artifact, "load", must_not_run)


def refuse_probe(monkeypatch, folder: Path, code: int) -> None:
    """Make creating a file in `folder` fail as a read-only or a full file system does."""
    create = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise OSError(code, os.strerror(code))
        return create(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("command", ["fit", "predict"])
@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_read_only_or_full_folder_fails_before_any_work(command, code, tmp_path, no_work,
                                                        monkeypatch):
    output = tmp_path / "out" / "result"
    output.parent.mkdir()
    refuse_probe(monkeypatch, output.parent, code)
    args = (["fit", SAMPLE_DATA / "long.csv", *TINY] if command == "fit"
            else ["predict", FIXTURES / "model-v1.fcst", FIXTURES / "series.csv"])
    result = run_cli([*args, "-o", output])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"forecastr: error: {output}: cannot write in {output.parent} "
                             f"({os.strerror(code)})\n")
    assert os.listdir(output.parent) == []


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_missing_folder_or_a_file_as_folder_fails_before_any_work(command, tmp_path, no_work):
    (tmp_path / "file").write_text("not a folder")
    args = (["fit", SAMPLE_DATA / "long.csv", *TINY] if command == "fit"
            else ["predict", FIXTURES / "model-v1.fcst", FIXTURES / "series.csv"])
    for output, message in [
        (tmp_path / "no" / "such" / "out", f"folder {tmp_path / 'no' / 'such'} does not exist"),
        (tmp_path / "file" / "out", f"{tmp_path / 'file'} is a file, not a folder"),
    ]:
        result = run_cli([*args, "-o", output])
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == f"forecastr: error: {output}: {message}\n"


def test_an_output_that_is_a_folder_fails_before_any_work(tmp_path, no_work):
    with pytest.raises(OutputError) as err:
        api.fit(SAMPLE_DATA / "long.csv", output=tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory; give a file name for the output"
    result = run_cli(["predict", FIXTURES / "model-v1.fcst", FIXTURES / "series.csv", "-o",
                      tmp_path])  # click's own check, before forecastr's
    assert result.exit_code == 2 and "is a directory" in result.stderr
    assert result.stderr.count("\n") == 1


def test_too_little_free_space_is_refused_with_both_sizes(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(writer.shutil, "disk_usage",
                        lambda folder: usage(10**9, 10**9 - 512_000, 512_000))
    output = tmp_path / "m.fcst"
    writer.check_writable(output)  # nothing asked for: the probe alone decides
    writer.check_writable(output, needed_bytes=512_000)
    with pytest.raises(OutputError) as err:
        writer.check_writable(output, needed_bytes=3_000_000)
    assert str(err.value) == (f"{output}: only 0.5 MB free in {tmp_path}, need about 3.0 MB; "
                              f"free some space or choose another folder")
    monkeypatch.setattr(writer.shutil, "disk_usage",
                        lambda folder: usage(10**12, 10**12 - 2 * 10**9, 2 * 10**9))
    with pytest.raises(OutputError, match="only 2,000 MB free in .*, need about 12,345 MB;"):
        writer.check_writable(output, needed_bytes=12_345 * 10**6)
    assert os.listdir(tmp_path) == []  # the probe cleans up after itself


def folder_modes_bind_us() -> bool:
    """False for root (uid 0 with CAP_DAC_OVERRIDE), which writes into a 0o555 folder."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            Path(folder, "probe").touch()
        except PermissionError:
            return True
        finally:
            os.chmod(folder, 0o755)
    return False


@pytest.mark.skipif(not folder_modes_bind_us(),
                    reason="running as root, which writes into a folder whatever its mode "
                           "says, so a 0o555 folder proves nothing; the EROFS test covers it")
def test_a_real_read_only_folder_fails_before_any_work(tmp_path, no_work):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    try:
        result = run_cli(["fit", SAMPLE_DATA / "long.csv", *TINY, "-o", folder / "m.fcst"])
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 2
    assert result.stderr == (f"forecastr: error: {folder / 'm.fcst'}: cannot write in "
                             f"{folder} (Permission denied)\n")


def same_file_cases(tmp_path: Path) -> dict[str, tuple[list, Path, str]]:
    """name -> (arguments, the output that is also an input, the input's name and path)."""
    data, model = tmp_path / "in.csv", tmp_path / "m.fcst"
    data.write_bytes((FIXTURES / "series.csv").read_bytes())
    model.write_bytes((FIXTURES / "model-v3.fcst").read_bytes())
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    predict = ["predict", model, data, "-o"]
    return {
        "predict -o DATA": ([*predict, data], data, f"DATA ({data})"),
        "predict -o MODEL": ([*predict, model], model, f"MODEL ({model})"),
        "predict -o a symlink to DATA": ([*predict, tmp_path / "link.csv"],
                                         tmp_path / "link.csv", f"DATA ({data})"),
        "predict -o a hard link to DATA": ([*predict, tmp_path / "hard.csv"],
                                           tmp_path / "hard.csv", f"DATA ({data})"),
        "fit -o DATA": (["fit", data, *TINY, "-o", data], data, f"DATA ({data})"),
        "evaluate --plot DATA": (["evaluate", model, data, "--plot", data], data,
                                 f"DATA ({data})"),
        "evaluate --plot MODEL": (["evaluate", model, data, "--plot", model], model,
                                  f"MODEL ({model})"),
    }


@pytest.mark.parametrize("case", ["predict -o DATA", "predict -o MODEL",
                                  "predict -o a symlink to DATA",
                                  "predict -o a hard link to DATA", "fit -o DATA",
                                  "evaluate --plot DATA", "evaluate --plot MODEL"])
def test_an_output_that_is_an_input_is_refused_before_any_work(case, tmp_path, no_work,
                                                               monkeypatch):
    args, output, named = same_file_cases(tmp_path)[case]
    monkeypatch.setattr(load.__module__ + ".load", lambda *a: pytest.fail("model loaded"))
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    result = run_cli(args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"forecastr: error: {output}: is {named} as well; writing it "
                             f"would destroy the input, so nothing was done; give another "
                             f"output path\n")
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_predict_refuses_an_output_that_stdin_reads(tmp_path):
    data = tmp_path / "in.csv"
    data.write_bytes((FIXTURES / "series.csv").read_bytes())
    with data.open("rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "forecastr", "predict",
                               str(FIXTURES / "model-v3.fcst"), "-", "-o", str(data)],
                              stdin=stdin, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"forecastr: error: {data}: is DATA (stdin) as well; writing it "
                           f"would destroy the input, so nothing was done; give another "
                           f"output path\n")
    assert data.read_bytes() == (FIXTURES / "series.csv").read_bytes()


def predict_to(output: str | Path) -> object:
    return run_cli(["predict", FIXTURES / "model-v3.fcst", FIXTURES / "series.csv", "-o",
                    output])


def test_an_existing_output_keeps_its_mode_and_a_link_keeps_pointing(tmp_path):
    private = tmp_path / "private.csv"
    private.write_text("old")
    private.chmod(0o600)
    assert predict_to(private).exit_code == 0
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_text().startswith("unique")
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old")
    link.symlink_to(real)
    assert predict_to(link).exit_code == 0
    assert link.is_symlink() and real.read_text().startswith("unique_id,ds,y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "private.csv",
                                                          "real.csv"]  # no stray temporary


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
def test_a_device_or_fifo_output_is_written_in_place_not_replaced(tmp_path):
    assert predict_to("/dev/null").exit_code == 0
    assert Path("/dev/null").is_char_device()  # as root a rename would have replaced it
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    assert predict_to(fifo).exit_code == 0
    assert reader.communicate(timeout=30)[0].startswith(b"unique_id,ds,y\n")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and os.listdir(tmp_path) == ["pipe"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_device_is_an_error_not_a_silent_loss():
    result = predict_to("/dev/full")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "forecastr: error: /dev/full: cannot write (No space left on device)\n"


def test_output_paths_that_name_no_file_and_dash_for_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = predict_to("newname/")
    assert folder.exit_code == 2 and folder.stderr == (
        "forecastr: error: newname/: ends in '/', so it names a folder; give a file name for "
        "the output\n")
    empty = predict_to("")
    assert empty.exit_code == 2 and empty.stderr == (
        "forecastr: error: the output path is empty; give a file name\n")
    dash = predict_to("-")
    assert dash.exit_code == 0 and dash.stdout.startswith("unique_id,ds,y\n")
    fitted = run_cli(["fit", FIXTURES / "series.csv", *TINY, "-o", "-"])
    assert fitted.exit_code == 2 and "-o -: a model file cannot go to stdout" in fitted.stderr
    assert os.listdir(tmp_path) == []


MODEL = FIXTURES / "model-v3.fcst"
DATA_COMMANDS = {"predict": ["predict", MODEL, FIXTURES / "series.csv"],
                 "info": ["info", MODEL],
                 "inspect": ["inspect", FIXTURES / "series.csv", "--window", "8"],
                 "evaluate": ["evaluate", MODEL, FIXTURES / "series.csv"]}


def forecastr_with_stdout(args: list, stdout: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecastr", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120)


@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_every_command_exits_141_quietly_when_stdout_has_no_reader(command):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails
    try:
        done = forecastr_with_stdout(DATA_COMMANDS[command], write)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["predict", "info"])
def test_a_full_or_closed_stdout_is_a_one_line_error_naming_stdout(command):
    with open("/dev/full", "w") as full:
        done = forecastr_with_stdout(DATA_COMMANDS[command], full.fileno())
    assert done.returncode == 2 and done.stderr == (
        "forecastr: error: stdout: cannot write (No space left on device); the output is "
        "incomplete; write to a file with -o, or fix what stdout goes to\n")
    args = " ".join(map(str, DATA_COMMANDS[command]))
    closed = subprocess.run(["bash", "-c", f"{sys.executable} -m forecastr {args} >&-"],
                            capture_output=True, text=True, timeout=120)
    assert closed.returncode == 2 and closed.stderr == (
        "forecastr: error: stdout: closed, so there is nowhere to write the output; redirect "
        "it to a file, or give -o\n")


def test_short_writes_to_stdout_are_written_on_until_every_byte_is_out(monkeypatch):
    from forecastr.cli import stdout

    read, write = os.pipe()
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    text = "unique_id,ds,y\n" + "a,2001-01-01,1.5\n" * 50
    with open(write, "w", encoding="utf-8") as stream:
        monkeypatch.setattr(sys, "stdout", stream)
        stdout.emit(text)
    monkeypatch.undo()
    with open(read, "rb") as received:
        assert received.read().decode() == text
