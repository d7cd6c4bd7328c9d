"""CSV inputs as streams: compressed input is never held decompressed, binary data are refused
on the first block, UTF-8 is checked throughout (naming the line), and running out of memory
anywhere says while doing what."""

from __future__ import annotations

import gzip
import io
import os
import threading
import tracemalloc

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr.data.source import open_source
from forecastr.errors import DataError, OutOfMemory, out_of_memory
from tests.conftest import SAMPLE_DATA, run_cli


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_of_zeros_is_refused_after_its_first_block(tmp_path):
    bomb = tmp_path / "zeros.csv.gz"
    with gzip.open(bomb, "wb") as stream:
        for _ in range(200):
            stream.write(bytes(1 << 20))  # 200 MiB of zeros in about 200 KB
    with pytest.raises(DataError, match="binary data, not CSV text"):
        open_source(bomb)
    # before: decompressed whole (200 MiB here, 8.5 GB for the probe's 18.7 MB file)
    assert peak_bytes(lambda: pytest.raises(DataError, open_source, bomb)) < 4 * 2**20


def test_compressed_csv_is_scanned_without_holding_it_decompressed():
    rows = "".join(f"{t},{t % 97}.5\n" for t in range(400_000))
    raw = gzip.compress(("t,y\n" + rows).encode(), compresslevel=1)
    scanned = open_source(io.BytesIO(raw))
    assert scanned.size == len(rows) + 4 and not scanned.quoted and not scanned.blank
    assert scanned.sample.startswith("t,y\n0,0.5\n")
    assert peak_bytes(lambda: open_source(io.BytesIO(raw))) < len(raw) + 4 * 2**20
    # each pass reads the whole text again, as a stream
    assert scanned.open().read() == scanned.open().read() == ("t,y\n" + rows).encode()


def test_a_byte_order_mark_is_left_out_of_every_pass():
    scanned = open_source(io.BytesIO(b"\xef\xbb\xbfds,y\n2020-01-01,1\n"))
    assert scanned.sample.startswith("ds,y") and scanned.open().read(4) == b"ds,y"


@settings(max_examples=40, deadline=None)
@given(lines=st.integers(0, 3000), bad=st.sampled_from([b"\xe9", b"\xff", b"\xc3"]))
def test_text_that_is_not_utf8_is_named_by_its_line_across_blocks(lines, bad):
    # rows of multi-byte characters, so that blocks cut characters in two
    head = "".join(f"é{i:040d}\n" for i in range(lines)).encode()
    raw = head + b"x," + bad + b"z\n" + "é\n".encode() * 40_000
    with pytest.raises(DataError, match=rf"<stream>, line {lines + 1}: not UTF-8 text \(byte "
                                        rf"0x{bad[0]:02x}\)"):
        open_source(io.BytesIO(raw))


def test_a_file_that_ends_inside_a_character_is_named():
    with pytest.raises(DataError, match=r"line 2: not UTF-8 text \(the file ends inside"):
        open_source(io.BytesIO(b"a,b\n\xc3"))


def test_truncated_gzip_is_named(tmp_path):
    raw = (SAMPLE_DATA / "employment.csv.gz").read_bytes()
    with pytest.raises(DataError, match="truncated or corrupt gzip data"):
        open_source(io.BytesIO(raw[: len(raw) // 2]))


def test_reading_gzip_gives_the_same_panel_as_plain_text(tmp_path):
    plain = tmp_path / "employment.csv"
    plain.write_bytes(gzip.decompress((SAMPLE_DATA / "employment.csv.gz").read_bytes()))
    from forecastr.data.reader import read_panel

    a, b = read_panel(plain), read_panel(SAMPLE_DATA / "employment.csv.gz")
    assert a.ids == b.ids and (a.values == b.values).all() and (a.times == b.times).all()


def test_a_plain_file_on_disk_is_read_again_for_each_pass_not_held(tmp_path):
    data = tmp_path / "plain.csv"
    data.write_bytes(b"\xef\xbb\xbft,y\n" + b"".join(b"%d,%d.5\n" % (t, t % 97)
                                                   for t in range(600_000)))
    # before: the whole file (7 MB) was held for the passes after the scan
    assert peak_bytes(lambda: open_source(data)) < 3 * 2**20
    scanned = open_source(data)
    with scanned.open() as first, scanned.open() as second:
        assert first.read() == second.read() == data.read_bytes()[3:]  # without the BOM


def test_a_pipe_named_by_its_path_is_read_once_and_held(tmp_path):
    pipe = tmp_path / "pipe.csv"  # as `forecastr predict m.fcst <(zcat data.csv.gz)` gives
    os.mkfifo(pipe)
    text = b"t,y\n1,2.5\n2,3.5\n"
    writer = threading.Thread(target=pipe.write_bytes, args=(text,))
    writer.start()
    scanned = open_source(pipe)
    writer.join()
    with scanned.open() as first, scanned.open() as second:
        assert first.read() == second.read() == text


def test_out_of_memory_says_while_doing_what():
    with pytest.raises(OutOfMemory, match="^out of memory while reading x; do less$"):
        with out_of_memory("reading x", "do less"):
            raise MemoryError
    # torch's CPU allocator says so only in a RuntimeError's text
    with pytest.raises(OutOfMemory):
        with out_of_memory("building y", "do less"):
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: "
                               "can't allocate memory: you tried to allocate 1200000")
    with pytest.raises(RuntimeError, match="another"):  # other errors pass through
        with out_of_memory("building y", "do less"):
            raise RuntimeError("another")


def test_memory_running_out_while_reading_is_one_line_naming_the_file(monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pd, "read_csv", exhausted)
    data = SAMPLE_DATA / "employment.csv.gz"
    result = run_cli(["inspect", data])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"forecastr: error: out of memory while reading {data} (")
    assert result.stderr.endswith(" bytes of CSV); give a smaller file (fewer or shorter "
                                  "series), or run where there is more memory\n")


def test_memory_running_out_in_training_names_its_size(monkeypatch, tmp_path):
    from forecastr.training import train

    def exhausted(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to "
                           "allocate 10000000000 bytes")

    monkeypatch.setattr(train, "train", exhausted)
    result = run_cli(["fit", SAMPLE_DATA / "single.csv", "-o", tmp_path / "m.fcst",
                      "--window", "12", "--quiet"])
    assert result.exit_code == 1
    assert result.stderr.startswith("forecastr: error: out of memory while training ")
    assert result.stderr.endswith(" parameters on batches of 256 windows of 12 steps; lower "
                                  "--batch-size, --window or --hidden\n")


def test_memory_running_out_anywhere_else_is_still_one_line(monkeypatch):
    from forecastr import api

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(api, "info", exhausted)  # a place that does not say what it does
    result = run_cli(["info", SAMPLE_DATA / "single.csv"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("forecastr: error: out of memory; give less data (fewer or "
                             "shorter series) or smaller options, or run where there is more "
                             "memory (run again with --debug for where)\n")
