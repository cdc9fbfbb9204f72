"""train_data as a list of sources: the mixing rule (fraction, weight, seed), config errors, per-source
counts in the summary, a per-source template, and the mixture in the resume contract."""

import json

import pytest

from tracesft.data import Example
from tracesft.data.mixture import SOURCE_KEY, Source, mix, parse_sources
from tracesft.errors import ConfigError


def _tagged(n_per_source):
    return [Example(f"q{k}-{i}", "r", None, {SOURCE_KEY: k}) for k, n in enumerate(n_per_source) for i in range(n)]


def test_mixing_rule_fraction_and_weight_seeded():
    examples = _tagged([10, 4, 6])
    sources = [Source("a", fraction=0.5), Source("b", fraction=2.5), Source("c", weight=3.0)]
    mixed = mix(examples, sources, seed=7)
    by = [[e for e in mixed if e.meta[SOURCE_KEY] == k] for k in range(3)]
    assert [len(b) for b in by] == [5, 4 * 2 + 2, 6]
    assert len({e.prompt for e in by[0]}) == 5  # without replacement
    assert all(sum(e is x for x in by[1]) in (2, 3) for e in examples[10:14])  # each twice, two of them thrice
    assert all(e.weight == 3.0 for e in by[2])
    again = mix(_tagged([10, 4, 6]), sources, seed=7)
    assert [e.prompt for e in again] == [e.prompt for e in mixed]  # one seed, one mixture
    other = mix(_tagged([10, 4, 6]), sources, seed=8)
    assert [e.prompt for e in other] != [e.prompt for e in mixed]
    # a source's draw does not depend on the others
    alone = mix(_tagged([10]), sources[:1], seed=7)
    assert [e.prompt for e in alone] == [e.prompt for e in by[0]]


@pytest.mark.parametrize("value, message", [
    ([], "non-empty list"),
    ([{"fraction": 0.5}], r"train_data\[0\]: needs a path"),
    ([{"path": "a", "fraction": 0.5, "weight": 2}], r"train_data\[0\]: set fraction .* or weight .*, not both"),
    (["a", {"path": "b", "fraction": 0}], r"train_data\[1\].fraction: must be > 0"),
    ([{"path": "a", "weight": -1}], r"train_data\[0\].weight: must be >= 0"),
    ([{"path": "a", "share": 1}], r"train_data\[0\]: unknown key\(s\) share"),
])
def test_source_errors_name_the_entry(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_sources(value)


def test_mixture_trains_counts_per_source_and_is_in_the_resume_contract(tmp_path, setup_dir):
    from helpers.train import make_cfg

    from tracesft.train import train
    from tracesft.train.run_dir import resume_changes

    datasets = pytest.importorskip("datasets")
    rows = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()]
    datasets.Dataset.from_list(rows[:6]).to_parquet(str(tmp_path / "b.parquet"))  # sources of any format
    mixture = [{"path": str(setup_dir / "train.jsonl"), "fraction": 0.5},
               {"path": str(tmp_path / "b.parquet"), "weight": 2.0, "template": "question_only"}]
    cfg = make_cfg(setup_dir, tmp_path / "run", train_data=mixture, eval_data=None, max_steps=1,
                   micro_batch_size=4, gradient_accumulation_steps=1)
    summary = train(cfg)
    a, b = summary["mixture"]
    assert (a["read"], a["held_out"], a["mixed"], a["kept"], a["trained"]) == (48, 0, 24, 24, 24)
    assert (b["read"], b["mixed"], b["kept"], b["trained"], b["weight"]) == (6, 6, 6, 6, 2.0)
    assert summary["weights"]["n_weighted"] == 6 and summary["n_train"] == 30
    changed = make_cfg(setup_dir, tmp_path / "run", train_data=[mixture[0], {**mixture[1], "weight": 3.0}],
                       eval_data=None, max_steps=1, micro_batch_size=4, gradient_accumulation_steps=1)
    assert "train_data" in resume_changes(changed, tmp_path / "run")
    assert resume_changes(cfg, tmp_path / "run") == {}  # the saved config reads back as the same mixture


def test_a_source_template_renders_that_source(tmp_path, setup_dir):
    from helpers.train import make_cfg

    from tracesft.evaluate import load_model_and_tokenizer
    from tracesft.train.builders import build_train_data, select_examples
    from tracesft.train.distributed import DistInfo

    rows = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()][:4]
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = make_cfg(setup_dir, tmp_path / "run", train_data=[
        {"path": str(setup_dir / "train.jsonl"), "fraction": 0.25},
        {"path": str(tmp_path / "b.jsonl"), "weight": 2.0, "template": "question_only"}], eval_data=None)
    _, tok = load_model_and_tokenizer(cfg.model)
    examples, _, report = select_examples(cfg)
    ts = build_train_data(cfg, examples, report, tok, DistInfo(), progress=False).train_set
    prompts = [tok.decode(ids[:n]) for ids, n in zip(ts.input_ids, ts.prompt_lengths)]
    by_weight = {w: [p for p, x in zip(prompts, ts.weights) if x == w] for w in (1.0, 2.0)}
    assert sorted(by_weight[2.0]) == sorted(tok.decode(tok(r["prompt"])["input_ids"]) for r in rows)
    assert len(by_weight[1.0]) == 12 and all(p not in by_weight[2.0] for p in by_weight[1.0])
    assert all(p.startswith("User:") and p.endswith("Assistant: <think>") for p in by_weight[1.0])  # the run's


def test_eval_data_list_reports_metrics_per_source(tmp_path, setup_dir):
    from helpers.train import make_cfg

    from tracesft.train import train

    rows = [json.loads(line) for line in (setup_dir / "eval.jsonl").read_text().splitlines()]
    (tmp_path / "e1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    (tmp_path / "e2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[2:] * 2))
    eval_data = [str(tmp_path / "e1.jsonl"), {"path": str(tmp_path / "e2.jsonl")}]
    cfg = make_cfg(setup_dir, tmp_path / "run", eval_data=eval_data, max_steps=1, eval_n=3)
    assert cfg.eval_data == [{"path": str(tmp_path / "e1.jsonl"), "split": None},
                             {"path": str(tmp_path / "e2.jsonl"), "split": None}]
    summary = train(cfg)
    by = summary["eval_by_source"]
    assert list(by) == [str(tmp_path / "e1.jsonl"), str(tmp_path / "e2.jsonl")]
    assert [s["n_examples"] for s in by.values()] == [2, 3] and summary["eval_n_examples"] == 5  # eval_n per source
    generations = [json.loads(line) for line in (tmp_path / "run" / "generations" / "step-00000001.jsonl")
                   .read_text().splitlines()]
    correct = [sum(r["reward"]["answer_reward"] for r in generations[a:b]) / (b - a) for a, b in ((0, 2), (2, 5))]
    assert [s["accuracy"] for s in by.values()] == pytest.approx(correct)
    with pytest.raises(ConfigError, match=r"eval_data\[0\]: unknown key\(s\) weight"):
        make_cfg(setup_dir, tmp_path / "r2", eval_data=[{"path": "x", "weight": 1}])
