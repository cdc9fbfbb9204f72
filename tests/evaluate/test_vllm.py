"""The vLLM backend on a real engine (``make test`` runs these in .venv-vllm with ``--vllm``; CPU build).

One engine serves the module (start ~20 s); the training tests start their own in a subprocess.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

pytestmark = pytest.mark.vllm

N_PROMPTS = 16


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    """A demo-task tokenizer and the demo's Qwen2 shape (head size 32, which vLLM's CPU attention supports;
    hidden 128, where the CPU backend packs the linear layers and the tied head for oneDNN: a sync that
    left a packed copy stale would show)."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.task import DEMO_TEMPLATE, make_dataset
    from tracesft.demo.tokenizer import train_bpe_tokenizer

    records = make_dataset(200, seed=0, wrong_share=0.0)
    prompts = [DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records]
    tok = train_bpe_tokenizer([p + r["response"] for p, r in zip(prompts, records)], vocab_size=300)
    model = tiny_qwen2(vocab_size=len(tok), hidden_size=128, num_attention_heads=4, num_key_value_heads=2,
                       intermediate_size=512, max_position_embeddings=256)
    path = tmp_path_factory.mktemp("vllm-model")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path, model, tok, prompts, records


@pytest.fixture(scope="module")
def engine(demo_model):
    from tracesft.evaluate.vllm import init_vllm, shutdown_vllm

    llm = init_vllm(str(demo_model[0]), device="cpu", seed=0)
    yield llm
    shutdown_vllm(llm)


def _train_a_few_steps(model, tok, prompts, records, steps=6, lr=3e-3):
    from tracesft import get_response_log_probs, sft_microbatch_train_step, tokenize_prompt_and_output

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for i in range(steps):
        sl = slice(16 * i, 16 * (i + 1))
        batch = tokenize_prompt_and_output(prompts[sl], [r["response"] for r in records[sl]], tok)
        out = get_response_log_probs(model, batch["input_ids"], batch["labels"])
        sft_microbatch_train_step(out["log_probs"], batch["response_mask"], 1)
        opt.step()
        opt.zero_grad()
    model.eval()


def _hf_greedy_ids(model, tok, prompt, n):
    ids = tok(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


def _vllm_greedy_ids(llm, prompts, n):
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=n, ignore_eos=True)
    return [o.outputs[0].token_ids for o in llm.generate(list(prompts), params, use_tqdm=False)]


def test_engine_lands_on_the_device_asked_for(engine):
    devices = engine.apply_model(lambda m: {str(p.device) for p in m.parameters()})[0]
    assert devices == {"cpu"}
    assert engine.llm_engine.model_config.dtype == torch.float32  # the CPU default: exact against HF float32


def test_sync_after_training_equals_hf_greedy_token_for_token(demo_model, engine):
    from tracesft.evaluate import log_generations
    from tracesft.evaluate.vllm import load_policy_into_vllm_instance, log_generations_vllm
    from tracesft.grading import r1_zero_reward_fn

    path, model, tok, prompts, records = demo_model
    # a shared preamble longer than several cache blocks: stale cached prefixes after the sync would show
    preamble = "User: 1 + 1 = 2 </think> <answer> 2 </answer>\n" * 6
    eval_prompts = [preamble + p for p in prompts[-N_PROMPTS:]]
    truths = [r["ground_truth"] for r in records[-N_PROMPTS:]]
    assert min(len(tok(p).input_ids) for p in eval_prompts) > 64
    before = _vllm_greedy_ids(engine, eval_prompts, 24)

    _train_a_few_steps(model, tok, prompts, records)
    t0 = time.perf_counter()
    load_policy_into_vllm_instance(model, engine)
    print(f"weight sync: {time.perf_counter() - t0:.3f} s")

    after = _vllm_greedy_ids(engine, eval_prompts, 24)
    hf = [_hf_greedy_ids(model, tok, p, 24) for p in eval_prompts]
    assert [list(a) for a in after] == hf  # exact, every prompt
    assert sum(list(a) != list(b) for a, b in zip(after, before)) >= N_PROMPTS // 2  # the sync changed the engine

    # the records contract: same responses, lengths and grades as the HF path
    kw = dict(max_new_tokens=40, stop=("</answer>",))
    ours = log_generations_vllm(engine, eval_prompts, truths, r1_zero_reward_fn, **kw)
    ref = log_generations(model, tok, eval_prompts, truths, r1_zero_reward_fn, batch_size=1, **kw)
    for a, b in zip(ours["records"], ref["records"]):
        assert (a["response"], a["response_length"], a["reward"], a["hit_max_new_tokens"], a["answer"]) == \
            (b["response"], b["response_length"], b["reward"], b["hit_max_new_tokens"], b["answer"])
    assert set(ours["summary"]) == set(ref["summary"])


def test_seed_form_with_sampling_params_and_batch_size(demo_model, engine):
    from vllm import SamplingParams

    from tracesft.evaluate.vllm import log_generations_vllm
    from tracesft.grading import r1_zero_reward_fn

    _, _, _, prompts, records = demo_model
    ps, truths = prompts[:5], [r["ground_truth"] for r in records[:5]]
    params = SamplingParams(temperature=0.0, max_tokens=16, stop=["</answer>"], include_stop_str_in_output=True)
    seed_form = log_generations_vllm(engine, ps, truths, r1_zero_reward_fn, params, batch_size=2)
    keyword_form = log_generations_vllm(engine, ps, truths, r1_zero_reward_fn, max_new_tokens=16)
    assert params.logprobs is None  # the caller's object is left as it was
    assert [r["response"] for r in seed_form["records"]] == [r["response"] for r in keyword_form["records"]]
    assert seed_form["summary"]["n_examples"] == 5
    assert all(r["mean_token_entropy"] > 0 for r in seed_form["records"])


def test_generation_stops_at_the_stop_token(demo_model, engine):
    """A chat template's end-of-turn token ends a response on the engine as on the HF path."""
    from tracesft.evaluate.vllm import log_generations_vllm
    from tracesft.grading import r1_zero_reward_fn

    _, _, _, prompts, records = demo_model
    first = _vllm_greedy_ids(engine, prompts[:2], 1)
    out = log_generations_vllm(engine, prompts[:2], ["1", "2"], r1_zero_reward_fn, max_new_tokens=12, stop=(),
                               stop_token_ids=(first[0][0],))
    assert out["records"][0]["response_length"] == 1


def test_samples_per_prompt_with_n_reproducible_under_a_seed(demo_model, engine):
    from tracesft.evaluate.vllm import log_generations_vllm
    from tracesft.grading import r1_zero_reward_fn

    _, _, _, prompts, records = demo_model
    ps, truths = prompts[:3], [r["ground_truth"] for r in records[:3]]
    kw = dict(max_new_tokens=12, temperature=1.0, samples=4, pass_k=[2])
    out = log_generations_vllm(engine, ps, truths, r1_zero_reward_fn, seed=3, **kw)
    recs = out["records"]
    assert [(r["prompt_index"], r["sample_index"]) for r in recs] == [(p, s) for p in range(3) for s in range(4)]
    assert all(r["prompt"] == ps[r["prompt_index"]] for r in recs)
    assert len({r["response"] for r in recs if r["prompt_index"] == 0}) > 1  # sampled, not 4 copies
    again = log_generations_vllm(engine, ps, truths, r1_zero_reward_fn, seed=3, **kw)
    assert [r["response"] for r in again["records"]] == [r["response"] for r in recs]
    assert all(r["hit_max_new_tokens"] == (r["response_length"] == 12 and "</answer>" not in r["response"])
               for r in recs)
    s = out["summary"]
    assert s["n_examples"] == 3 and s["samples_per_prompt"] == 4
    assert {"avg@4", "pass@1", "pass@2", "pass@4", "maj@4"} <= set(s)


def test_one_engine_per_process_then_the_shared_one_closes(engine, demo_model):
    """A second engine while one runs is refused in one line; the module's engine then shuts down,
    and the tests below start their own."""
    from tracesft.errors import BackendUnavailableError
    from tracesft.evaluate.vllm import init_vllm, shutdown_vllm

    with pytest.raises(BackendUnavailableError, match="still running.*shutdown_vllm"):
        init_vllm(str(demo_model[0]), device="cpu")
    shutdown_vllm(engine)


def test_start_errors_are_one_clear_line(tmp_path, demo_model):
    from tracesft.demo.models import tiny_qwen2
    from tracesft.errors import BackendUnavailableError
    from tracesft.evaluate.vllm import init_vllm

    path, _, tok, _, _ = demo_model
    with pytest.raises(BackendUnavailableError, match=r"runs on cpu, not cuda:0: set vllm_device to cpu"):
        init_vllm(str(path), device="cuda:0")
    small_heads = tmp_path / "heads16"
    tiny_qwen2(vocab_size=len(tok), hidden_size=64, num_attention_heads=4).save_pretrained(small_heads)
    tok.save_pretrained(small_heads)
    with pytest.raises(BackendUnavailableError, match=r"head size 16 is not supported .* eval_backend hf"):
        init_vllm(str(small_heads), device="cpu")
    with pytest.raises(BackendUnavailableError, match=r"the memory it may use: vllm_gpu_memory_utilization, now 0.99"):
        init_vllm(str(path), device="cpu", gpu_memory_utilization=0.99)


def test_policy_in_another_dtype_and_untied_head(tmp_path, demo_model):
    """A bfloat16 policy into a float32 engine; a model whose output head is not tied."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.evaluate.vllm import init_vllm, load_policy_into_vllm_instance, shutdown_vllm

    _, _, tok, prompts, _ = demo_model
    model = tiny_qwen2(vocab_size=len(tok), hidden_size=64, num_attention_heads=2, num_key_value_heads=1,
                       tie_word_embeddings=False, max_position_embeddings=256)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    llm = init_vllm(str(tmp_path), device="cpu")
    try:
        with torch.no_grad():
            model.lm_head.weight.mul_(3.0)  # only the untied head changes
        policy = model.to(torch.bfloat16)
        load_policy_into_vllm_instance(policy, llm)
        head = llm.apply_model(lambda m: m.lm_head.weight.detach().clone())[0]
        assert head.dtype == torch.float32
        vocab = policy.lm_head.weight.shape[0]  # the engine pads its vocabulary rows
        assert torch.equal(head[:vocab], policy.lm_head.weight.float())
    finally:
        shutdown_vllm(llm)


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pids) -> list[int]:
    import psutil

    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_demo_trains_with_vllm_evaluation_and_sigterm_leaves_no_process(tmp_path):
    """`tracesft demo --fast --eval-backend vllm` evaluates on the engine at every eval; a SIGTERM
    during training stops the run cleanly with no engine process left behind."""
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "tracesft.cli", "demo", "--fast", "--eval-backend", "vllm", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r.get("kind") == "eval"]
    assert [e["step"] for e in evals] == [0, 15]
    assert "eval_backend: vllm" in (out / "train" / "config.yaml").read_text()
    gens = [[json.loads(x)["response"] for x in (out / "train" / "generations" / f"step-{s:08d}.jsonl").open()]
            for s in (0, 15)]
    assert sum(a != b for a, b in zip(*gens)) >= len(gens[0]) // 2  # the engine generated with the trained weights

    # the demo's files again, in a run long enough to be stopped by SIGTERM once the engine is up
    run = tmp_path / "long"
    cmd = [sys.executable, "-m", "tracesft.cli", "train", "--config", str(out / "train" / "config.yaml"),
           "--set", f"output_dir={run}", "--set", "max_steps=100000", "--set", "eval_every=0",
           "--set", "progress=false"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (metrics.exists() and '"kind": "train"' in metrics.read_text()):
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    children = _descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "SIGTERM" in output and "Traceback" not in output, output[-3000:]
    time.sleep(1)
    assert _alive(children) == [], f"left behind: {_alive(children)}"
    assert list((run / "checkpoints").iterdir())  # stopped cleanly: it saved where it stopped
