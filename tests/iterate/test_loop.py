"""The loop end to end on a tiny model: two rounds, K=2; what it writes; the resume contract; a round
that keeps nothing; the STaR hint never reaching the training prompts."""

import json
import os

import pytest
import yaml
from helpers.iterate import iterate_values

from tracesft.errors import TrainingError, UserInputError
from tracesft.iterate.config import config_from_mapping
from tracesft.iterate.loop import run_iterate


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_rounds_end_to_end(reference_run, iterate_dir):
    out, summary = reference_run
    assert len(summary["accuracy_per_round"]) == 3 and summary["rounds"] == 2
    assert json.loads((out / "summary.json").read_text())["accuracy_per_round"] == summary["accuracy_per_round"]
    assert json.loads((out / "iterate.json").read_text())["status"] == "finished"
    questions = read_jsonl(iterate_dir / "questions.jsonl")
    for n in (1, 2):
        rd = out / f"round-{n}"
        samples, kept = read_jsonl(rd / "samples.jsonl"), read_jsonl(rd / "kept.jsonl")
        assert len(samples) == 8 * 2  # every sample of every question, with its grade and why
        assert all({"reward", "answer", "why", "question"} <= s.keys() for s in samples)
        assert sum(s["why"] == "kept" for s in samples) == len(kept) > 0
        for k in kept:  # correct, and the question as given (no template, no hint)
            q = questions[k["question_index"]]
            assert (k["prompt"], k["ground_truth"]) == (q["prompt"], q["ground_truth"])
            assert k["response"].strip().endswith(f"<answer> {q['ground_truth']} </answer>")
        assert len({(k["question_index"], " ".join(k["response"].split())) for k in kept}) == len(kept)
        assert max(sum(k["question_index"] == i for k in kept) for i in range(8)) <= 2  # M = 2
        row = summary["table"][n]
        solved = {k["question_index"] for k in kept}
        assert row["coverage"] == len(solved) / 8 and row["kept"] == len(kept)
        assert row["train_steps"] == 4 and (rd / "sft" / "final" / "model.safetensors").is_file()
        assert set(row["seconds"]) == {"sampling", "grading", "rationalize", "training", "eval"}
        assert json.loads((rd / "eval" / "summary.json").read_text())["accuracy"] == summary["accuracy_per_round"][n]
        for phase in ("sample", "keep", "train", "eval"):
            assert (rd / f"done-{phase}.json").is_file()
    # init previous: round 2 fine-tunes round 1's model
    assert yaml.safe_load((out / "round-2" / "sft" / "config.yaml").read_text())["model"] == \
        str(out / "round-1" / "sft" / "final")


def test_resume_of_a_finished_run_redoes_nothing_and_a_changed_config_is_refused(reference_run, tmp_path):
    import shutil

    src, _ = reference_run
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    values = yaml.safe_load((out / "iterate.yaml").read_text())
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("done-*.json")}
    summary = run_iterate(config_from_mapping(values), str(out), resume=True, quiet=True)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("done-*.json")} == stamps
    assert summary["accuracy_per_round"] == json.loads((src / "summary.json").read_text())["accuracy_per_round"]
    with pytest.raises(UserInputError, match=r"--resume .*: lr 0.003 -> 0.01 would not continue the same run"):
        run_iterate(config_from_mapping({**values, "lr": 0.01}), str(out), resume=True)
    with pytest.raises(UserInputError, match="iterate.samples_per_prompt 2 -> 3"):
        run_iterate(config_from_mapping({**values, "iterate": {**values["iterate"], "samples_per_prompt": 3}}),
                    str(out), resume=True)
    with pytest.raises(UserInputError, match="holds an iteration run .*--resume"):
        run_iterate(config_from_mapping(values), str(out))


def test_resume_of_a_run_saved_before_a_key_existed_takes_its_default(reference_run, tmp_path):
    """A key added to the schema since the run was saved: at its default the run continues; set, it is
    a change like any other."""
    import shutil

    src, _ = reference_run
    out = tmp_path / "old"
    shutil.copytree(src, out)
    values = yaml.safe_load((out / "iterate.yaml").read_text())
    del values["iterate"]["accumulate"]
    (out / "iterate.yaml").write_text(yaml.safe_dump(values))
    run_iterate(config_from_mapping(values), str(out), resume=True, quiet=True)
    (out / "iterate.yaml").write_text(yaml.safe_dump(values))
    with pytest.raises(UserInputError, match="iterate.accumulate False -> True"):
        run_iterate(config_from_mapping({**values, "iterate": {**values["iterate"], "accumulate": True}}),
                    str(out), resume=True)


def test_a_round_that_keeps_nothing_stops_with_solve_rates(iterate_dir, tmp_path, capsys):
    values = iterate_values(iterate_dir)
    values["model"] = str(iterate_dir / "model")  # the untrained model: no sample is correct
    values["iterate"]["rounds"] = 1
    with pytest.raises(TrainingError, match="round 1 kept nothing: no sample of the 8 questions is correct"):
        run_iterate(config_from_mapping(values), str(tmp_path / "out"), quiet=True)
    printed = capsys.readouterr().out
    assert "questions by correct samples (of 2): 0: 8, 1: 0, 2: 0" in printed
    assert "0: 0/2, 1: 0/2" in printed
    assert not (tmp_path / "out" / "round-1" / "sft").exists()  # no empty SFT run
    assert all(s["why"] in ("bad_format", "wrong_answer") for s in read_jsonl(tmp_path / "out" / "round-1"
                                                                              / "samples.jsonl"))


def test_rationalized_traces_train_without_the_hint(iterate_dir, tmp_path):
    """STaR: questions no sample solved are sampled with the answer as a hint; what is kept trains on
    the question alone. The hint text is one no question contains."""
    from tracesft.iterate import loop

    values = iterate_values(iterate_dir, rationalize=True, hint_template="{question} HINT={answer}", rounds=1)
    config = config_from_mapping(values)
    out = tmp_path / "out"
    # The model answers 3, so it never solves the questions whose answer is 4, and a hint it has never
    # seen only confuses it: the hinted sampling is replaced by correct rationales (the plumbing is tested)
    real_sample = loop._sample

    def sample(config, cfg, model_path, round_n, examples, directory, salt=0, indices=None):
        if indices is None:
            return real_sample(config, cfg, model_path, round_n, examples, directory, salt, indices)
        assert all("HINT=4" in e.prompt for e in examples)
        directory.mkdir(parents=True)
        records = [{"prompt_index": q, "sample_index": 0, "prompt": f"User: {e.prompt}\nAssistant: <think>",
                    "question": e.prompt, "response": " a </think> <answer> 4 </answer>", "response_length": 6,
                    "reward": {"format_reward": 1.0, "answer_reward": 1.0, "reward": 1.0}}
                   for q, e in zip(indices, examples)]
        (directory / "chunk-00000.json").write_text(json.dumps({"generation_seconds": 0.0, "grading_seconds": 0.0,
                                                                "records": records}))
        return {"sampling_seconds": 0.0, "grading_seconds": 0.0, "chunks": 1}

    loop._sample, saved = sample, loop._sample
    try:
        summary = run_iterate(config, str(out), quiet=True)
    finally:
        loop._sample = saved
    rd = out / "round-1"
    hinted = [s for s in read_jsonl(rd / "samples.jsonl") if s.get("hinted")]
    assert {s["prompt_index"] for s in hinted} == {0, 4} and all("HINT=4" in s["prompt"] for s in hinted)
    train_rows = read_jsonl(rd / "train.jsonl")
    star = [r for r in train_rows if r["origin"] == "rationalized"]
    assert star and summary["table"][1]["kept_rationalized"] == len(star)
    assert all("HINT" not in r["prompt"] for r in train_rows)
    assert {r["prompt"] for r in star} <= {"What is 0 plus 2?", "What is 4 plus 2?"}
    # and the SFT run read exactly that file, whose prompts carry no hint
    assert yaml.safe_load((rd / "sft" / "config.yaml").read_text())["train_data"] == str(rd / "train.jsonl")
    assert os.path.getsize(rd / "train.jsonl") > 0


def test_accumulate_trains_on_every_trace_kept_so_far_once(tmp_path):
    """accumulate: round 2's train.jsonl is round 1's kept traces then round 2's, a question's response
    (whitespace collapsed) once; kept.jsonl stays the round's own; off, the round's own only."""
    from tracesft.data import Example
    from tracesft.iterate.loop import _keep

    questions = [Example(f"q{i}", None, str(i)) for i in range(3)]

    def sample(q, s, response, right=True):
        return {"prompt_index": q, "sample_index": s, "response": response, "response_length": len(response),
                "reward": {"format_reward": 1.0, "answer_reward": float(right), "reward": float(right)}}

    def traces(rd, name):
        return [(t["question_index"], t["response"]) for t in read_jsonl(rd / name)]

    samples = {1: [sample(0, 0, "a 0"), sample(1, 0, "b 1"), sample(2, 0, "x", right=False)],
               2: [sample(0, 0, "a  0"), sample(1, 0, "c 1"), sample(2, 0, "d 2")]}
    for accumulate in (True, False):
        out = tmp_path / str(accumulate)
        config = config_from_mapping({"model": "m", "train_data": "q.jsonl", "eval_data": "e.jsonl",
                                      "iterate": {"accumulate": accumulate, "keep_per_prompt": 1}})
        for n in (1, 2):
            (out / f"round-{n}" / "samples").mkdir(parents=True)
            (out / f"round-{n}" / "samples" / "chunk-00000.json").write_text(json.dumps({"records": samples[n]}))
            info = _keep(config, n, questions, [], out / f"round-{n}")
        rd = out / "round-2"
        assert traces(rd, "kept.jsonl") == [(0, "a  0"), (1, "c 1"), (2, "d 2")]
        expected = [(0, "a 0"), (1, "b 1"), (1, "c 1"), (2, "d 2")] if accumulate else traces(rd, "kept.jsonl")
        assert traces(rd, "train.jsonl") == expected
        assert info["kept"] == 3 and info["train_examples"] == len(expected)
