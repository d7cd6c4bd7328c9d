"""The safe container that model files and checkpoints share: a dict of tensors and plain
values that torch.save writes atomically, read back with torch.load(weights_only=True) after
the zip records are checked (CRC-32 sums, uncompressed, side by side), under a format name and
version. So loading one never runs code from it, and refusing a damaged one costs no more
than reading it."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from forecastr.data.writer import atomic_write
from forecastr.errors import ModelFileError
from forecastr.version import __version__


@dataclass(frozen=True)
class Kind:
    """What a container file is, and the words for it in messages."""

    format: str  # the value of its "format" entry, e.g. "forecastr-model"
    noun: str  # "model file", "checkpoint"
    wanted: str  # what to give instead of another kind of file
    remedy: str  # what to do about a damaged one
    too_old: str  # what to do about one older than this forecastr reads


def versions() -> dict[str, str]:
    """The releases that write a file, recorded in it."""
    return {"forecastr": __version__, "torch": torch.__version__}


def write(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a payload (tensors and plain values only) atomically."""
    with atomic_write(path) as stream:
        torch.save(payload, stream)


def read(path: str | Path, kind: Kind, newest_version: int, oldest_version: int = 1
         ) -> dict[str, Any]:
    """Read a dict that `write` wrote, without ever running code from the file.

    Args:
        path: the file to read.
        kind: what the file must be, and the words for it in messages.
        newest_version: the highest "format_version" this forecastr reads.
        oldest_version: the lowest "format_version" this forecastr still reads.

    Raises:
        ModelFileError: one line naming the path, for anything but a readable file of the
            expected kind and a version in [oldest_version, newest_version].
    """
    name, noun = str(path), kind.noun
    if Path(path).is_dir():
        raise ModelFileError(f"{name}: is a directory, not a {noun}; give the path of "
                             f"the file")
    # opened apart from reading, so that an unreadable file is not called corrupt
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such {noun}; check the path") from None
    except OSError as exc:
        raise ModelFileError(f"{name}: cannot read ({exc.strerror or exc}); check the path and its "
                             f"permissions") from None
    with stream:
        try:
            payload = _weights_only_load(stream)
        except pickle.UnpicklingError as exc:
            # torch names a class or function to call as "Unsupported global: GLOBAL x.y" or
            # "unsupported GLOBAL x.y whose module x is blocked"
            if re.search("unsupported global", str(exc), re.IGNORECASE):
                raise ModelFileError(f"{name}: refused: the file holds Python objects that "
                                     f"could run code when loaded; a forecastr {noun} never "
                                     f"does") from None
            raise ModelFileError(f"{name}: not a forecastr {noun}; {kind.wanted}") from None
        except Exception:  # noqa: BLE001 - zipfile and torch raise many types for damage
            raise ModelFileError(f"{name}: not a forecastr {noun}, or truncated or corrupt; "
                                 f"{kind.remedy}") from None
    found = payload.get("format") if isinstance(payload, dict) else None
    if found != kind.format:
        if isinstance(found, str) and re.fullmatch("forecastr-[a-z]+", found):  # a checkpoint
            raise ModelFileError(f"{name}: not a forecastr {noun} but a forecastr "
                                 f"{found.removeprefix('forecastr-')}; {kind.wanted}")
        raise ModelFileError(f"{name}: not a forecastr {noun}; {kind.wanted}")
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{name}: corrupt {noun}: format version {version!r}; "
                             f"{kind.remedy}")
    if version > newest_version:
        raise ModelFileError(f"{name}: written by a newer forecastr ({noun} format {version}; "
                             f"this one reads up to {newest_version}); upgrade forecastr")
    if version < oldest_version:
        raise ModelFileError(f"{name}: {noun} format {version} is too old (this forecastr "
                             f"reads {oldest_version} to {newest_version}); {kind.too_old}")
    return payload


def _weights_only_load(stream: BinaryIO) -> Any:
    """torch.load that accepts tensors and plain values only, after checking the archive."""
    if zipfile.is_zipfile(stream):  # anything else is left to torch.load to name
        _check_archive(stream)
    stream.seek(0)
    with warnings.catch_warnings():  # torch warns about foreign pickle protocols
        warnings.simplefilter("ignore")
        return torch.load(stream, map_location="cpu", weights_only=True)


def _check_archive(stream: BinaryIO) -> None:
    """torch reads its zip archives without checking their CRC-32 sums, so a flipped bit in
    the weights or in a stored string would load silently; zipfile checks every record. The
    records are checked to be stored side by side first, so that this costs one reading."""
    with zipfile.ZipFile(stream) as archive:
        records = archive.infolist()
        _check_layout(records)
        damaged = archive.testzip()
    if damaged is not None:
        raise zipfile.BadZipFile(f"bad CRC-32 for {damaged}")
    # torch's zip reader takes a record with the MS-DOS directory bit for an empty folder
    # and then hands back uninitialised memory as that tensor's values
    if any(record.external_attr & 0x10 for record in records):
        raise zipfile.BadZipFile("a record is marked as a directory")


def _check_layout(records: list[zipfile.ZipInfo]) -> None:
    """torch stores its records uncompressed, one after another. Entries that point into the
    same bytes, or compressed ones, would make a small file read as a large one."""
    end = 0
    for record in sorted(records, key=lambda r: r.header_offset):
        if record.compress_type != zipfile.ZIP_STORED:
            raise zipfile.BadZipFile(f"record {record.filename} is compressed")
        if record.header_offset < end:
            raise zipfile.BadZipFile(f"record {record.filename} overlaps another")
        # a local header is at least 30 bytes and the name; its extra field may add more
        end = record.header_offset + 30 + len(record.orig_filename.encode()) \
            + record.compress_size


def tensor(raw: Any, where: str, floats: bool = True) -> torch.Tensor:
    """A stored tensor (of floats, unless `floats` is False) that holds each of its values
    once."""
    if not isinstance(raw, torch.Tensor) or raw.layout != torch.strided \
            or floats and not raw.is_floating_point():
        raise ValueError(f"{where} is {shown(raw)}, not a tensor of "
                         f"{'floats' if floats else 'numbers'}")
    # strides that repeat a value (stride 0) or reach past the storage would let a few
    # stored bytes stand for an array of any size
    extent = (raw.storage_offset() + raw.numel()) * raw.element_size()
    if not raw.is_contiguous() or extent > raw.untyped_storage().nbytes():
        raise ValueError(f"{where} is not laid out as a plain array of its values")
    return raw


def within_file(tensors: list[torch.Tensor], file_size: int) -> None:
    """That the tensors hold no more bytes than the file: tensors that shared their values
    would let a small file make a large model."""
    size = sum(t.numel() * t.element_size() for t in tensors)
    if size > file_size:
        raise ValueError(f"its tensors hold {size:,} bytes, more than the file's {file_size:,}")


def shown(raw: Any) -> str:
    """A stored value in a message, cut short: a crafted file may hold a long one."""
    text = repr(raw) if isinstance(raw, (str, int, float, bool, type(None))) \
        else f"a {type(raw).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."
