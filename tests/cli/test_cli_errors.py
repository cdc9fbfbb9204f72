"""Bad input across the subcommands: one `error:` line, a non-zero exit, no traceback, inputs intact."""

import json
import shutil
import struct

import pytest
import yaml
from helpers.train import build_setup_dir, make_cfg

from tracesft.cli import main


@pytest.fixture(scope="module")
def setup_dir(tmp_path_factory):
    root = build_setup_dir(tmp_path_factory.mktemp("clierr"))
    from tracesft.demo.tokenizer import train_bpe_tokenizer

    big = train_bpe_tokenizer([json.loads(line)["response"] for line in (root / "train.jsonl").read_text()
                               .splitlines()] * 3 + ["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ"] * 3,
                              vocab_size=420)
    big.save_pretrained(root / "big_tokenizer")
    shutil.copytree(root / "model", root / "corrupt_model")
    weights = root / "corrupt_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    (root / "empty.jsonl").write_text("")
    (root / "nan.jsonl").write_text('{"prompt": "1+1?", "response": "2", "ground_truth": NaN}\n')
    (root / "deep.jsonl").write_text('{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    (root / "bad_template.txt").write_bytes(b"User: {question}\xff\n")
    (root / "list_metrics").mkdir()
    (root / "list_metrics" / "metrics.jsonl").write_text("[1, 2]\n")
    (root / "binary_metrics").mkdir()
    (root / "binary_metrics" / "metrics.jsonl").write_bytes(b'{"step": 1}\n\xff\xfe\n')
    (root / "surrogate.jsonl").write_text('{"prompt": "a\\ud800b", "response": "2", "ground_truth": "2"}\n')
    (root / "bigint.jsonl").write_text('{"prompt": "q", "response": "2", "ground_truth": ' + "9" * 5000 + "}\n")
    header = b"GGUF" + struct.pack("<I", 3)
    (root / "magic_only.gguf").write_bytes(b"GGUF")
    (root / "truncated.gguf").write_bytes(header + b"\x01\x02")
    (root / "absurd.gguf").write_bytes(header + struct.pack("<QQ", 0, 2**40) + struct.pack("<Q", 20)
                                       + b"general.architecture" + struct.pack("<IQ", 8, 5) + b"llama")
    shutil.copytree(root / "model", root / "garbage_tokenizer")
    (root / "garbage_tokenizer" / "tokenizer_config.json").write_text("{garbage")
    (root / "long_prompt.jsonl").write_text(json.dumps({"prompt": "1 plus 2 " * 400, "ground_truth": "3"}) + "\n")
    shutil.copytree(root / "model", root / "bad_header")
    weights = root / "bad_header" / "model.safetensors"
    weights.write_bytes(struct.pack("<Q", 2**63) + weights.read_bytes()[8:])  # a header length past any file
    cfg = make_cfg(root, root / "run").to_dict()
    (root / "train.yaml").write_text(yaml.safe_dump(cfg))
    (root / "dup.yaml").write_text("model: a\nmodel: b\ntrain_data: d\n")
    return root


def run_cli(args, capsys):
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    noise = ("INFO", "WARNING", "Loading weights")  # logging and transformers' progress bars, not errors
    return rc, [line for line in err.splitlines() if line.strip() and not line.startswith(noise)]


CASES = [
    ("set: unclosed YAML", ["train", "--config", "{d}/train.yaml", "--set", "lr=[unclosed"], "--set lr: invalid value"),
    ("set: YAML tag", ["train", "--config", "{d}/train.yaml", "--set", "lr=!!python/object:os.system x"],
     "--set lr: invalid value"),
    ("set: infinite lr", ["train", "--config", "{d}/train.yaml", "--set", "lr=.inf"], "lr: must be a finite number"),
    ("set: empty output_dir", ["train", "--config", "{d}/train.yaml", "--set", "output_dir="], "output_dir: required"),
    ("set: unknown schedule", ["train", "--config", "{d}/train.yaml", "--set", "lr_schedule=exponential"],
     "lr_schedule: 'exponential' is not one of constant, linear, cosine"),
    ("set: negative clipping", ["train", "--config", "{d}/train.yaml", "--set", "max_grad_norm=-1"],
     "max_grad_norm: must be >= 0"),
    ("duplicate YAML keys", ["train", "--config", "{d}/dup.yaml"], "duplicate key 'model'"),
    ("eval --limit -1", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--limit", "-1"],
     "--limit: must be >= 1"),
    ("eval --n (renamed)", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--n", "5"],
     "--n is now --limit N (the first N examples); --samples K draws K responses per prompt"),
    ("eval --samples greedy", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--samples", "4",
                               "--out", "{d}/e3"], "4 samples per prompt at temperature 0"),
    ("eval --pass-k past --samples", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--samples", "2",
                                      "--temperature", "1", "--pass-k", "1,4", "--out", "{d}/e4"],
     "--pass-k 4: more than the 2 samples"),
    ("set: keep_best unknown", ["train", "--config", "{d}/train.yaml", "--set", "keep_best=pass@3"],
     "keep_best: 'pass@3' is not one of"),
    ("eval --top-p 5", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--top-p", "5"],
     "--top-p: must be in (0, 1]"),
    ("filter --workers 0", ["filter", "{d}/train.jsonl", "--out", "{d}/o.jsonl", "--workers", "0"],
     "--workers: must be >= 1"),
    ("train --nproc -1", ["train", "--config", "{d}/train.yaml", "--nproc", "-1"], "--nproc: must be >= 1"),
    ("filter onto its input", ["filter", "{d}/train.jsonl", "--out", "{d}/train.jsonl"], "overlaps the input"),
    ("filter onto a directory", ["filter", "{d}/train.jsonl", "--out", "{d}/model"], "is a directory"),
    ("typo'd model path", ["eval", "--model", "nope_rel_dir", "--data", "{d}/eval.jsonl"],
     "model directory nope_rel_dir does not exist"),
    ("corrupt weights", ["eval", "--model", "{d}/corrupt_model", "--data", "{d}/eval.jsonl"], "cannot load model from"),
    ("tokenizer bigger than the model", ["train", "--config", "{d}/train.yaml", "--set", "tokenizer={d}/big_tokenizer",
                                         "--set", "output_dir={d}/t1"], "tokens but the model"),
    ("cuda without a GPU", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--device", "cuda"],
     "sees no CUDA GPU"),
    ("empty eval data", ["train", "--config", "{d}/train.yaml", "--set", "eval_data={d}/empty.jsonl", "--set",
                         "output_dir={d}/t2"], "no examples to evaluate"),
    ("NaN ground truth", ["filter", "{d}/nan.jsonl", "--out", "{d}/o.jsonl"], "nan.jsonl:1: field 'ground_truth' must"),
    ("deeply nested JSON", ["filter", "{d}/deep.jsonl", "--out", "{d}/o.jsonl"], "deep.jsonl:1: JSON nested too"),
    ("template not UTF-8", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--template",
                            "{d}/bad_template.txt"], "not UTF-8"),
    ("metrics line not an object", ["plot", "{d}/list_metrics"], "metrics.jsonl:1: expected a JSON object"),
    ("metrics not UTF-8", ["plot", "{d}/binary_metrics"], "not UTF-8"),
    ("vllm key with the hf backend", ["train", "--config", "{d}/train.yaml", "--set", "vllm_device=cpu"],
     "vllm_device: set, but eval_backend is hf"),
    ("vllm memory share out of range", ["train", "--config", "{d}/train.yaml", "--set", "eval_backend=vllm", "--set",
                                        "vllm_gpu_memory_utilization=1.5"], "must be in (0, 1], got 1.5"),
    ("vllm device not a device", ["train", "--config", "{d}/train.yaml", "--set", "eval_backend=vllm", "--set",
                                  "vllm_device=gpu0"], "vllm_device: 'gpu0' is not one of cpu, cuda, cuda:N"),
    ("system prompt with a text template", ["train", "--config", "{d}/train.yaml", "--set", "system_prompt=x"],
     "system_prompt: set, but template is"),
    ("eval --system without chat", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--system", "x",
                                    "--out", "{d}/e1"], "--system needs --template chat"),
    ("chat template, tokenizer without one", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--template",
                                              "chat", "--out", "{d}/e2"], "has no chat template"),
    ("inspect chat without a tokenizer", ["data", "inspect", "{d}/train.jsonl", "--template", "chat"],
     "template chat needs the model's tokenizer"),
    ("demo --sweep --real", ["demo", "--sweep", "--real"], "--sweep and --real: choose one"),
    ("demo --iterate --real, --out a file", ["demo", "--iterate", "--real", "--out", "{d}/train.jsonl"],
     "train.jsonl: exists and is not a directory"),
    ("config is /dev/zero", ["train", "--config", "/dev/zero"], "/dev/zero: config file larger than"),
    ("data is /dev/zero", ["filter", "/dev/zero", "--out", "{d}/o.jsonl"], "/dev/zero: not a regular file"),
    ("lora on a tied head", ["train", "--config", "{d}/train.yaml", "--set", "lora={target_modules: [lm_head]}",
                             "--set", "output_dir={d}/t4"], "lora.target_modules: lm_head is tied"),
    ("GGUF magic only", ["model", "import", "{d}/magic_only.gguf", "--out", "{d}/m1"], "truncated or malformed header"),
    ("GGUF truncated", ["model", "import", "{d}/truncated.gguf", "--out", "{d}/m2"], "truncated or malformed header"),
    ("GGUF absurd counts", ["model", "import", "{d}/absurd.gguf", "--out", "{d}/m3"], "truncated or malformed header"),
    ("lone surrogate", ["filter", "{d}/surrogate.jsonl", "--out", "{d}/o.jsonl"],
     "surrogate.jsonl:1: field 'prompt' holds a lone surrogate"),
    ("lone surrogate, inspect", ["data", "inspect", "{d}/surrogate.jsonl"], "field 'prompt' holds a lone surrogate"),
    ("5,000-digit ground truth", ["filter", "{d}/bigint.jsonl", "--out", "{d}/o.jsonl"],
     "bigint.jsonl:1: unreadable JSON value (Exceeds the limit (4300 digits)"),
    ("tokenizer of garbage JSON", ["data", "inspect", "{d}/train.jsonl", "--tokenizer", "{d}/garbage_tokenizer"],
     "cannot load the tokenizer of"),
    ("model with a garbage tokenizer", ["eval", "--model", "{d}/garbage_tokenizer", "--data", "{d}/eval.jsonl",
                                        "--out", "{d}/e3"], "cannot load model from"),
    ("lora target_modules 5", ["train", "--config", "{d}/train.yaml", "--set", "lora={target_modules: 5}"],
     "lora.target_modules: must name modules"),
    ("lora alpha NaN", ["train", "--config", "{d}/train.yaml", "--set", "lora={alpha: .nan}"],
     "lora.alpha: must be a finite number > 0, got nan"),
    ("eval --device banana", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--device", "banana"],
     "--device: 'banana' is not one of cpu, cuda, cuda:N"),
    ("config device cudabanana", ["train", "--config", "{d}/train.yaml", "--set", "device=cudabanana"],
     "device: 'cudabanana' is not one of"),
    ("eval --seed 2^70", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--seed", str(2**70)],
     "--seed: must be in [0, 2**63 - 1]"),
    ("train seed 2^70", ["train", "--config", "{d}/train.yaml", "--set", f"seed={2**70}"],
     "seed: must be in [0, 2**63 - 1]"),
    ("eval --temperature inf", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--temperature", "inf"],
     "--temperature: must be >= 0, got inf"),
    ("vllm temperature past 2", ["eval", "--model", "{d}/model", "--data", "{d}/eval.jsonl", "--backend", "vllm",
                                 "--temperature", "5"], "--temperature: the vLLM backend takes [0, 2], got 5.0"),
    ("vllm eval_temperature past 2", ["train", "--config", "{d}/train.yaml", "--set", "eval_backend=vllm", "--set",
                                      "eval_temperature=3"], "eval_temperature: the vLLM backend takes [0, 2]"),
    ("--nproc 2, vLLM backend not installed", ["train", "--config", "{d}/train.yaml", "--nproc", "2", "--set",
                                               "eval_backend=vllm"], "the vLLM backend needs the optional extra"),
    ("vllm: corrupt safetensors header", ["eval", "--model", "{d}/bad_header", "--data", "{d}/eval.jsonl",
                                          "--backend", "vllm", "--out", "{d}/e4"], "bad_header: model.safetensors:"),
    ("vllm: prompt past the positions", ["eval", "--model", "{d}/model", "--data", "{d}/long_prompt.jsonl",
                                         "--backend", "vllm", "--out", "{d}/e5"],
     "example 1's prompt is"),
    ("max_length past the positions", ["train", "--config", "{d}/train.yaml", "--set", "max_length=600", "--set",
                                       "output_dir={d}/t3"], "exceeds the 512 positions"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(setup_dir, capsys, name, args, message):
    before = (setup_dir / "train.jsonl").read_bytes()
    rc, lines = run_cli([a.replace("{d}", str(setup_dir)) for a in args], capsys)
    assert rc == 2, (rc, lines)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert (setup_dir / "train.jsonl").read_bytes() == before  # inputs intact
    assert not list(setup_dir.glob(".*.tmp"))  # no temporary file left behind


def test_demo_refuses_an_existing_run(tmp_path, capsys):
    (tmp_path / "d" / "train").mkdir(parents=True)
    rc, lines = run_cli(["demo", "--out", tmp_path / "d"], capsys)
    assert rc == 2 and lines == [f"error: --out {tmp_path / 'd'}: already holds a demo run; choose another --out "
                                 "(or remove it)"]


def test_generation_is_capped_at_the_model_positions(setup_dir, caplog):
    from tracesft.evaluate import load_model_and_tokenizer, log_generations

    model, tok = load_model_and_tokenizer(str(setup_dir / "model"))
    model.config.max_position_embeddings = 24  # as a model with a small position table
    with caplog.at_level("WARNING"):
        out = log_generations(model, tok, ["What is 1 plus 2?"], ["3"], lambda r, g: {
            "format_reward": 0.0, "answer_reward": 0.0, "reward": 0.0}, max_new_tokens=10_000, stop=())
    prompt_len = len(tok("What is 1 plus 2?")["input_ids"])
    assert out["records"][0]["response_length"] <= 24 - prompt_len
    assert any("capped" in r.getMessage() for r in caplog.records)


def test_an_oversized_record_is_refused_with_its_line(tmp_path, capsys):
    from tracesft.data.sources import MAX_RECORD_BYTES

    data = tmp_path / "big.jsonl"
    data.write_text('{"prompt": "1+1?", "response": "2", "ground_truth": "2"}\n'
                    + json.dumps({"prompt": "x" * (MAX_RECORD_BYTES + 1), "response": "2"}) + "\n")
    rc, lines = run_cli(["filter", data, "--out", tmp_path / "o.jsonl"], capsys)
    assert rc == 2 and lines == [f"error: {data}:2: record over the 8 MiB limit per record"]


def test_a_model_with_nan_weights_is_one_line_greedy_sampling_and_training(setup_dir, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    model = tmp_path / "nan_model"
    shutil.copytree(setup_dir / "model", model)
    weights = load_file(str(model / "model.safetensors"))
    save_file({k: v * float("nan") for k, v in weights.items()}, str(model / "model.safetensors"),
              metadata={"format": "pt"})
    expected = "error: the model produces non-finite logits (NaN or inf)"
    for i, extra in enumerate(([], ["--temperature", "1"])):  # greedy wrote NaN into JSON; sampling crashed
        rc, lines = run_cli(["eval", "--model", model, "--data", setup_dir / "eval.jsonl", "--limit", "2",
                             "--max-new-tokens", "3", "--out", tmp_path / f"e{i}", *extra], capsys)
        assert rc == 1 and len(lines) == 1 and lines[0].startswith(expected), lines
    config = tmp_path / "nan.yaml"
    config.write_text(yaml.safe_dump({**make_cfg(setup_dir, tmp_path / "run").to_dict(), "model": str(model),
                                      "eval_before": True}))
    rc, lines = run_cli(["train", "--config", config], capsys)
    assert rc == 1 and len(lines) == 1 and lines[0].startswith(expected), lines
