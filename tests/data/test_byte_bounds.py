"""The record bound counts bytes in every format (JSONL, Parquet, datasets directory), a long JSONL line is
refused before it is read whole, `filter` chunks by bytes too, and config/template files are bounded."""

import json

import pytest

from tracesft.data import load_examples, sources
from tracesft.data.loaders import iter_examples
from tracesft.errors import DataError, UserInputError

datasets = pytest.importorskip("datasets")

LIMIT = 200
ROWS = [{"prompt": "1+1?", "response": "<answer>2</answer>", "ground_truth": "2"},
        {"prompt": "x" * (LIMIT + 1), "response": "<answer>2</answer>", "ground_truth": "2"},
        {"prompt": "2+2?", "response": "<answer>4</answer>", "ground_truth": "4"}]


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(sources, "MAX_RECORD_BYTES", LIMIT)


def write(fmt, path):
    if fmt == "jsonl":
        path = path / "d.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif fmt == "parquet":
        path = path / "d.parquet"
        datasets.Dataset.from_list(ROWS).to_parquet(str(path))
    else:
        path = path / "ds"
        datasets.Dataset.from_list(ROWS).save_to_disk(str(path))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "datasets"])
def test_the_record_bound_holds_in_every_format(small_limit, tmp_path, fmt):
    path = write(fmt, tmp_path)
    with pytest.raises(DataError, match=rf"{path.name}:2: record (of .* )?over the 200 bytes limit per record"):
        load_examples(path)
    skipped = []
    kept = list(iter_examples(path, skip_invalid=True, skipped=skipped))
    assert [e.prompt for e in kept] == ["1+1?", "2+2?"] and [s.line for s in skipped] == [2]


def test_a_long_jsonl_line_is_refused_before_it_is_read_whole(small_limit, tmp_path, monkeypatch):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"prompt": "y" * 5000}) + "\n" + json.dumps(ROWS[2])
                    + "\n")
    monkeypatch.setattr(sources, "_SKIP_PIECE", 64)
    reads = []
    real_open = type(path).open

    class Spy:
        def __init__(self, f):
            self.f = f

        def readline(self, size=-1):
            assert size > 0  # never an unbounded read
            line = self.f.readline(size)
            reads.append(len(line))
            return line

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(type(path), "open", lambda self, *a, **kw: Spy(real_open(self, *a, **kw)))
    records = list(sources.iter_records(path))
    assert [n for n, _ in records] == [1, 2, 3] and isinstance(records[1][1], sources.RecordError)
    assert records[2][1]["prompt"] == "2+2?"
    assert max(reads) <= LIMIT + 1  # the 5,000-byte line never held whole


def test_devices_and_huge_files_as_data_config_or_template_are_one_line(tmp_path, monkeypatch):
    from tracesft.data import load_template
    from tracesft.train import load_config

    with pytest.raises(DataError, match="not a regular file"):
        load_examples("/dev/zero")
    with pytest.raises(UserInputError, match="config file larger than"):
        load_config("/dev/zero")
    monkeypatch.setattr(sources, "MAX_CONFIG_BYTES", 1000)
    big = tmp_path / "t.txt"
    big.write_text("{question}" + "x" * 2000)
    with pytest.raises(UserInputError, match="template file larger than"):
        load_template(str(big))


def test_filter_chunks_by_bytes(tmp_path, monkeypatch, capsys):
    import tracesft.data as data_module
    from tracesft.cli import main

    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+0?" + " " * 300,
                                        "response": f"so </think> <answer>{i}</answer>",
                                        "ground_truth": str(i)}) + "\n" for i in range(10)))
    sizes, real = [], data_module.filter_correct

    def spy(chunk, *a, **kw):
        sizes.append(len(chunk))
        return real(chunk, *a, **kw)

    monkeypatch.setattr(data_module, "filter_correct", spy)
    monkeypatch.setattr("tracesft.cli._FILTER_CHUNK_BYTES", 1000)  # about 3 of these records
    assert main(["filter", str(data), "--out", str(tmp_path / "o.jsonl"), "--workers", "1", "--quiet"]) == 0
    assert sum(sizes) == 10 and max(sizes) <= 4 and len(sizes) >= 3
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 10


def test_damaged_arrow_and_parquet_files_are_one_line_naming_the_file(tmp_path):
    rows = [{"prompt": f"question {i} " + "z" * 40, "response": "2", "ground_truth": "2"} for i in range(2000)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    arrow = next((tmp_path / "ds").glob("*.arrow"))
    raw = bytearray(arrow.read_bytes())
    at = raw.index(b"question 5 ")
    raw[at:at + 2] = b"\xff\xfe"  # invalid UTF-8 inside a string column
    arrow.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"ds:1: cannot read the dataset's rows from here on \(UnicodeDecodeError"):
        load_examples(tmp_path / "ds")
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "p.parquet"))
    raw = bytearray((tmp_path / "p.parquet").read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 2000] = b"A" * 2000  # a corrupt page
    (tmp_path / "p.parquet").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"p.parquet:1: cannot read the Parquet rows from here on"):
        load_examples(tmp_path / "p.parquet")


def test_non_finite_numbers_in_passed_through_fields_are_written_as_null(tmp_path):
    from tracesft.cli import main

    data = tmp_path / "in.jsonl"
    data.write_text('{"prompt": "1+1?", "response": "so </think> <answer>2</answer>", "ground_truth": "2", '
                    '"score": NaN, "scores": [1.5, -Infinity]}\n')
    assert main(["filter", str(data), "--out", str(tmp_path / "o.jsonl"), "--workers", "1", "--quiet"]) == 0
    row = json.loads((tmp_path / "o.jsonl").read_text())
    assert row["score"] is None and row["scores"] == [1.5, None]
