"""The chat template: prompt/response boundary exactly where the tokenizer's template puts it; stopping."""

import pytest
import torch

from tracesft.data import CHAT, Example, render_prompts, render_responses, stop_token_ids
from tracesft.errors import UserInputError
from tracesft.tokenization import tokenize_prompt_and_output

RESPONSE = "<think> 2 + 3 = 5 </think> <answer> 5 </answer>"


def _example():
    return Example("What is 2 plus 3?", RESPONSE, "5",
                   {"system": "Answer inside <answer> tags.",
                    "context": [{"role": "user", "content": "What is 1 plus 1?"},
                                {"role": "assistant", "content": "<answer> 2 </answer>"}]})


def _ids(encoded):
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _assert_boundary_matches_the_template(tok, example, system=None):
    """tokenize_prompt_and_output on the rendered texts == apply_chat_template's ids, through end of turn."""
    from tracesft.data.chat import chat_messages, end_of_turn

    prompt = render_prompts(CHAT, [example], tok, system)[0]
    response = render_responses(CHAT, [example], tok, system)[0]
    batch = tokenize_prompt_and_output([prompt], [response], tok)
    ours = batch["input_ids"][0].tolist() + [batch["labels"][0, -1].item()]
    messages = chat_messages(example, system)
    ref_prompt = _ids(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
    ref_full = _ids(tok.apply_chat_template(messages + [{"role": "assistant", "content": example.response}],
                                            tokenize=True))
    eot = tok.convert_tokens_to_ids(end_of_turn(tok))
    ref_full = ref_full[: ref_full.index(eot, len(ref_prompt)) + 1]  # through the end-of-turn token
    assert ours == ref_full
    mask = batch["response_mask"][0].tolist()
    assert mask.index(True) == len(ref_prompt) - 1  # labels are shifted: the first response label
    assert sum(mask) == len(ref_full) - len(ref_prompt)
    return prompt, response, ours


def test_real_chat_template_boundary_system_and_earlier_turns(smollm2):
    from transformers import AutoTokenizer

    from tracesft.data.chat import end_of_turn

    tok = AutoTokenizer.from_pretrained(smollm2)
    assert end_of_turn(tok) == "<|im_end|>"
    prompt, response, _ = _assert_boundary_matches_the_template(tok, _example())
    assert "Answer inside <answer> tags." in prompt and "What is 1 plus 1?" in prompt  # context kept
    assert prompt.endswith("<|im_start|>assistant\n")
    assert response == RESPONSE + "<|im_end|>"  # ends with the end-of-turn token, nothing after it
    bare = Example("What is 2 plus 3?", RESPONSE, "5", {})
    prompt, _, _ = _assert_boundary_matches_the_template(tok, bare, system="Use tags.")
    assert "<|im_start|>system\nUse tags.<|im_end|>" in prompt
    assert stop_token_ids(CHAT, tok) == (tok.convert_tokens_to_ids("<|im_end|>"),)


def _bos_tokenizer(add_bos: bool):
    """A tokenizer whose template writes the BOS; with ``add_bos`` the tokenizer adds one itself too."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = "what is 2 3 5 plus ? < > / think answer = + 1 user assistant system tags . inside use".split()
    specials = ["<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
    vocab = {w: i for i, w in enumerate(specials + words)}
    inner = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    inner.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    if add_bos:
        inner.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                  additional_special_tokens=specials[3:])
    tok.chat_template = ("{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    return tok


@pytest.mark.parametrize("add_bos", [True, False])
def test_chat_boundary_with_and_without_an_added_bos(add_bos):
    tok = _bos_tokenizer(add_bos)
    _, response, ids = _assert_boundary_matches_the_template(tok, _example())
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id  # one BOS, never two
    assert response.endswith("<|end|>")


def test_chat_needs_a_template_and_text_templates_warn_about_context(caplog):
    tok = _bos_tokenizer(False)
    tok.chat_template = None
    with pytest.raises(UserInputError, match="has no chat template"):
        render_prompts(CHAT, [_example()], tok)
    with caplog.at_level("WARNING"):
        assert render_prompts("{question}", [_example()]) == ["What is 2 plus 3?"]
    assert "1 example(s) carry a system message or earlier turns" in caplog.text


def test_generation_stops_at_the_stop_token():
    """The greedy model's first token, made a stop token, ends every response after one token."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.evaluate import log_generations

    tok = _bos_tokenizer(False)
    tok.pad_token = tok.eos_token
    model = tiny_qwen2(vocab_size=len(tok), hidden_size=32)
    prompts, truths = ["what is 2 plus 3 ?"] * 2, ["5"] * 2
    never = lambda r, g: {"format_reward": 0.0, "answer_reward": 0.0, "reward": 0.0}  # noqa: E731
    free = log_generations(model, tok, prompts, truths, never, max_new_tokens=6, stop=())
    assert free["records"][0]["response_length"] == 6
    first = tok(prompts[0], return_tensors="pt").input_ids
    with torch.no_grad():
        t = model(first).logits[0, -1].argmax().item()
    if t == tok.eos_token_id:
        pytest.skip("the random model's first token is EOS already")
    stopped = log_generations(model, tok, prompts, truths, never, max_new_tokens=6, stop=(), stop_token_ids=(t,))
    assert [r["response_length"] for r in stopped["records"]] == [1, 1]


def test_training_with_the_chat_template_and_a_system_prompt(tmp_path):
    """template: chat end to end: responses end with the end-of-turn token, evaluation stops there."""
    import json

    from tracesft.demo.models import tiny_qwen2
    from tracesft.train import TrainConfig, train

    tok = _bos_tokenizer(True)
    tok.pad_token = tok.eos_token
    tiny_qwen2(vocab_size=len(tok), hidden_size=32).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    rows = [{"messages": [{"role": "user", "content": "what is 2 plus 3 ?", "info": {"reference_answer": "5"}},
                          {"role": "assistant", "content": RESPONSE}]}] * 8
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(Exception, match="system_prompt: set, but template is auto"):
        TrainConfig(model="m", train_data="d", system_prompt="x").validate()
    cfg = TrainConfig(model=str(tmp_path / "model"), train_data=str(tmp_path / "train.jsonl"),
                      eval_data=str(tmp_path / "train.jsonl"), template="chat", system_prompt="use tags .",
                      max_length=64, micro_batch_size=4, max_steps=2, eval_n=2, eval_max_new_tokens=4,
                      output_dir=str(tmp_path / "run"), progress=False, plots=False).validate()
    summary = train(cfg)
    assert summary["steps"] == 2 and summary["eval_n_examples"] == 2
    rec = json.loads((tmp_path / "run" / "generations" / "step-00000002.jsonl").read_text().splitlines()[0])
    # the template's written BOS is left to the tokenizer, which adds it
    assert rec["prompt"].startswith("<|system|>use tags .<|end|><|user|>what is 2 plus 3 ?")


def test_chat_ground_truth_from_the_final_boxed_only_when_asked(tmp_path):
    import json

    from tracesft.data import load_examples

    path = tmp_path / "chat.jsonl"
    record = {"messages": [{"role": "user", "content": "What is 6 * 7?"},
                           {"role": "assistant", "content": "6 * 7 = 42, so \\boxed{42}."}]}
    path.write_text(json.dumps(record) + "\n")
    assert load_examples(path)[0].ground_truth is None  # a model's reply is not a reference by default
    assert load_examples(path, truth_from_boxed=True)[0].ground_truth == "42"
    record["messages"][0]["info"] = {"reference_answer": "41"}  # a field, when there is one, wins
    path.write_text(json.dumps(record) + "\n")
    assert load_examples(path, truth_from_boxed=True)[0].ground_truth == "41"


def test_filter_truth_from_boxed_flag(tmp_path, capsys):
    import json

    from tracesft.cli import main

    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "2+2?"},
                                             {"role": "assistant", "content": "2+2 = \\boxed{4}"}]}) + "\n")
    assert main(["filter", str(path), "--out", str(tmp_path / "k.jsonl"), "--truth-from-boxed", "--quiet"]) == 0
    assert "kept 1 of 1" in capsys.readouterr().out
