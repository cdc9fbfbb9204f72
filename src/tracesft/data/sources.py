"""Where records come from, one at a time: JSONL lines, Parquet rows, ``datasets`` directories.

Each source yields ``(number, record)``: the 1-based line of a JSONL file, or the 1-based row of a
Parquet file or dataset, so that an error names ``path:number``. Nothing is read whole: JSONL is
read line by line, Parquet in record batches, a ``save_to_disk`` directory through its
memory-mapped Arrow files, so a file larger than memory streams in constant memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..errors import DataError, MissingExtraError, UserInputError

__all__ = ["iter_records", "RecordError", "MAX_RECORD_BYTES", "is_dataset_path"]

#: A record (one JSONL line) larger than this is refused: no prompt or trace is anywhere near it,
#: and tokenizing or generating from such a line exhausts memory.
MAX_RECORD_BYTES = 8 << 20
_BATCH_ROWS = 1024


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
        for number, line in enumerate(f, start=1):
            if len(line) > MAX_RECORD_BYTES:
                yield number, RecordError(f"record of {len(line) / 2**20:.1f} MiB, over the "
                                          f"{MAX_RECORD_BYTES >> 20} MiB limit per record")
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield number, RecordError(f"invalid UTF-8 at byte {e.start}")
                continue
            if not text.strip():
                continue  # blank lines carry no record
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as e:
                yield number, RecordError(f"malformed JSON ({e.msg} at column {e.colno})")
            except RecursionError:
                yield number, RecordError("JSON nested too deeply")


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
    for batch in reader.iter_batches(batch_size=_BATCH_ROWS):
        for row in batch.to_pylist():
            number += 1
            yield number, _present(row)


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
    for batch in ds.iter(batch_size=_BATCH_ROWS):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            number += 1
            yield number, _present(dict(zip(keys, values)))


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
    return _jsonl(path)
