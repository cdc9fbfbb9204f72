"""Where records come from, one at a time: JSONL lines, Parquet rows, ``datasets`` directories.

Each source yields ``(number, record)``: the 1-based line of a JSONL file, or the 1-based row of a
Parquet file or dataset, so that an error names ``path:number``. Nothing is read whole: JSONL is
read line by line, Parquet in record batches, a ``save_to_disk`` directory through its
memory-mapped Arrow files, so a file larger than memory streams in constant memory.

Every format has the same bound per record, in bytes (:data:`MAX_RECORD_BYTES`): a JSONL line is
refused as soon as it passes it, before it is read whole (the rest of the line is skipped in
pieces); a Parquet or dataset row counts the UTF-8 bytes of its values. Config and template files
are read through :func:`read_bounded_text` (:data:`MAX_CONFIG_BYTES`), so ``/dev/zero`` or a huge
file given as one is one line, not an exhausted memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..errors import DataError, MissingExtraError, UserInputError

__all__ = ["iter_records", "RecordError", "MAX_RECORD_BYTES", "MAX_CONFIG_BYTES", "is_dataset_path",
           "record_bytes", "read_bounded_text"]

#: A record (one JSONL line) larger than this is refused: no prompt or trace is anywhere near it,
#: and tokenizing or generating from such a line exhausts memory.
MAX_RECORD_BYTES = 8 << 20
#: A config (YAML) or template file larger than this is refused before it is read whole.
MAX_CONFIG_BYTES = 4 << 20
_BATCH_ROWS = 1024
_SKIP_PIECE = 1 << 20  # an oversized line is skipped in pieces of this size


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _over_limit(size: str | None) -> str:
    limit = MAX_RECORD_BYTES
    shown = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return f"record {'of ' + size + ', ' if size else ''}over the {shown} limit per record"


def record_bytes(value) -> int:
    """The size of a record's values in bytes (strings as UTF-8; numbers 8 each): what the bound counts."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, dict):
        return sum(record_bytes(k) + record_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(record_bytes(v) for v in value)
    return 8


def read_bounded_text(path, what: str = "config", limit: int | None = None) -> str:
    """The UTF-8 text of a small file (a config, a template), refused in one line past ``limit``
    bytes (default :data:`MAX_CONFIG_BYTES`) before more is read; ``/dev/zero`` is refused too."""
    limit = MAX_CONFIG_BYTES if limit is None else limit
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UserInputError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if len(data) > limit:
        raise UserInputError(f"{path}: {what} file larger than {limit >> 10} KiB; is it the right file?")
    return data.decode("utf-8")


class RecordError(Exception):
    """A record that cannot be read (bad UTF-8, bad JSON, too large); the caller adds path:number."""


def is_dataset_path(path: Path) -> bool:
    """A Parquet file or a directory written by ``datasets``' ``save_to_disk``."""
    return path.suffix == ".parquet" or (path.is_dir() and any(
        (path / name).is_file() for name in ("dataset_info.json", "dataset_dict.json", "state.json")))


def _jsonl(path: Path) -> Iterator[tuple[int, object]]:
    try:
        f = path.open("rb")
    except OSError as e:
        raise DataError(path, None, f"cannot read: {e.strerror or e}") from None
    with f:
        number = 0
        while True:
            limit = MAX_RECORD_BYTES
            line = f.readline(limit + 1)  # never more than the bound in memory
            if not line:
                break
            number += 1
            if len(line) > limit:  # refused before more of it is read; skipped only if the caller goes on
                yield number, RecordError(_over_limit(None))
                while not line.endswith(b"\n"):
                    line = f.readline(_SKIP_PIECE)
                    if not line:
                        break
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield number, RecordError(f"invalid UTF-8 at byte {e.start}")
                continue
            if not text.strip():
                continue  # blank lines carry no record
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield number, RecordError(f"malformed JSON ({e.msg} at column {e.colno})")
                continue
            except ValueError as e:  # an integer of more digits than Python converts (4,300)
                yield number, RecordError(f"unreadable JSON value ({str(e).split(';')[0][:120]})")
                continue
            except RecursionError:
                yield number, RecordError("JSON nested too deeply")
                continue
            if "\\ud" in text.lower():  # a \uD8xx escape: maybe a lone surrogate, which no text holds
                bad = _lone_surrogate(record)
                if bad is not None:
                    yield number, RecordError(f"field {bad!r} holds a lone surrogate escape (\\ud800-\\udfff "
                                              "without its pair): not text")
                    continue
            yield number, record


def _lone_surrogate(value, where: str = "") -> str | None:
    """The field (``a.b``) of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "(record)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _lone_surrogate(k, where) or _lone_surrogate(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _lone_surrogate(v, f"{where}[{i}]")
            if found:
                return found
    return None


def _datasets():
    try:
        import datasets
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtraError("reading Parquet files and datasets directories", "datasets") from None
    return datasets


def _parquet(path: Path) -> Iterator[tuple[int, object]]:
    _datasets()
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except Exception as e:  # not a Parquet file, truncated, unreadable
        raise DataError(path, None, f"cannot read as Parquet ({type(e).__name__}: {str(e)[:120]})") from None
    number = 0
    try:
        for batch in reader.iter_batches(batch_size=_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield number, _bounded(_present(row))
    except (OSError, ValueError) as e:  # a corrupt page, found as it is read
        if isinstance(e, DataError):
            raise
        raise DataError(path, number + 1, f"cannot read the Parquet rows from here on ({type(e).__name__}: "
                                          f"{str(e)[:120]})") from None


def _saved_dataset(path: Path, split: str | None) -> Iterator[tuple[int, object]]:
    datasets = _datasets()
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:
        raise DataError(path, None, f"cannot read as a saved dataset ({type(e).__name__}: {str(e)[:120]})") from None
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in ds:
            raise UserInputError(f"{path}: holds the splits {', '.join(splits)}; choose one with --split "
                                 f"(or the config's train_split / eval_split)" + (f", not {split!r}" if split else ""))
        ds = ds[split]
    elif split is not None:
        raise UserInputError(f"{path}: holds a single dataset, no splits (remove --split {split})")
    number = 0
    try:
        for batch in ds.iter(batch_size=_BATCH_ROWS):
            keys = list(batch)
            for values in zip(*(batch[k] for k in keys)):
                number += 1
                yield number, _bounded(_present(dict(zip(keys, values))))
    except (OSError, ValueError) as e:  # an arrow file with invalid UTF-8, a truncated one
        if isinstance(e, DataError):
            raise
        raise DataError(path, number + 1, f"cannot read the dataset's rows from here on ({type(e).__name__}: "
                                          f"{str(e)[:120]})") from None


def _bounded(row: dict):
    """The row, or a :class:`RecordError` when its values pass :data:`MAX_RECORD_BYTES`."""
    size = record_bytes(row)
    return RecordError(_over_limit(_mib(size))) if size > MAX_RECORD_BYTES else row


def _present(row: dict) -> dict:
    """A columnar row without its null cells: a column a record does not have reads as null."""
    return {k: v for k, v in row.items() if v is not None}


def iter_records(path, split: str | None = None) -> Iterator[tuple[int, object]]:
    """``(number, record)`` for each record of a JSONL file, a Parquet file or a saved dataset
    (``split`` chooses one of a dataset dict's splits); a record that cannot be read is yielded as a
    :class:`RecordError` so that the caller can stop or skip it."""
    path = Path(path)
    if path.suffix == ".parquet":
        return _parquet(path)
    if path.is_dir():
        if not is_dataset_path(path):
            raise DataError(path, None, "a directory, but not one written by datasets' save_to_disk")
        return _saved_dataset(path, split)
    if split is not None:
        raise UserInputError(f"{path}: --split applies to Parquet files and datasets directories only")
    if path.exists() and not path.is_file():  # /dev/zero, a pipe: no end to read to
        raise DataError(path, None, "not a regular file (a device or a pipe); give a JSONL file")
    return _jsonl(path)
