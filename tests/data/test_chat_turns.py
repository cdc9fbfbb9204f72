"""Every assistant turn, tool calls and thinking under the chat template: the trained tokens of each turn
are exactly what apply_chat_template adds between the render of the conversation before the turn (with
the generation prompt) and the render through it, on Qwen2.5's tokenizer and template, SmolLM2's, and
a Qwen3-style template that strips earlier thinking."""

import json

import pytest
from helpers.chat_templates import QWEN2_5, QWEN3_STYLE, with_template

from tracesft.data.chat import ChatOptions, chat_sequences, end_of_turn
from tracesft.data.loaders import _parse_record, load_examples
from tracesft.errors import ConfigError, DataError, UserInputError
from tracesft.train.batching import build_segment_train_set, collate

MULTI = {"messages": [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is 2 plus 3?"}, {"role": "assistant", "content": "2 + 3 = 5. The answer is 5."},
    {"role": "user", "content": "And times 4?"}, {"role": "assistant", "content": "5 * 4 = 20, so 20."},
    {"role": "user", "content": "Minus 1?"}, {"role": "assistant", "content": "19"}]}
TOOLS = [{"type": "function", "function": {"name": "add", "description": "Add two numbers",
                                           "parameters": {"type": "object", "properties": {
                                               "a": {"type": "number"}, "b": {"type": "number"}}}}}]
TOOL_RECORD = {"tools": TOOLS, "messages": [
    {"role": "user", "content": "What is 17 plus 25?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
        "name": "add", "arguments": {"a": 17, "b": 25}}}]},
    {"role": "tool", "name": "add", "content": "42"},
    {"role": "assistant", "content": "17 + 25 = 42."}]}
THINK = {"messages": [
    {"role": "user", "content": "What is 2 plus 3?"},
    {"role": "assistant", "reasoning_content": "2 and 3 make 5.", "content": "5"},
    {"role": "user", "content": "And times 4?"},
    {"role": "assistant", "content": "<think>\n5 times 4 is 20.\n</think>\n\n20"}]}


def _ids(encoded):
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _reference(tok, messages, tools=None, **kw):
    """(ids through the last assistant turn's end of turn, trained positions) from per-prefix renders."""
    eot = tok.convert_tokens_to_ids(end_of_turn(tok))
    trained, full = set(), None
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        ctx = _ids(tok.apply_chat_template(messages[:i], tools=tools, add_generation_prompt=True, tokenize=True, **kw))
        full = _ids(tok.apply_chat_template(messages[:i + 1], tools=tools, tokenize=True, **kw))
        assert full[:len(ctx)] == ctx  # the template keeps earlier turns (checked: else there is no boundary)
        end = full.index(eot, len(ctx)) + 1
        trained |= set(range(len(ctx), end))
    return full[:end], trained


def _ours(tok, record, **options):
    example = _parse_record(record)
    sequences = chat_sequences(tok, example, ChatOptions(**options))
    ts = build_segment_train_set(sequences, tok, max_length=4096)
    out = []
    for i in range(len(ts)):
        batch = collate([ts[i]], pad_id=0)
        ids = batch["input_ids"][0].tolist() + [batch["labels"][0, -1].item()]
        mask = batch["response_mask"][0].tolist()
        out.append((ids, {j + 1 for j, on in enumerate(mask) if on}))  # labels are shifted by one
    return out


@pytest.fixture(scope="module")
def qwen(qwen_tok):
    return with_template(qwen_tok, QWEN2_5)


@pytest.fixture(scope="module")
def qwen3(qwen_tok):
    return with_template(qwen_tok, QWEN3_STYLE)


def test_every_assistant_turn_masks_match_per_prefix_renders_qwen2_5(qwen):
    (ids, trained), = _ours(qwen, MULTI, loss_on="assistant")
    ref_ids, ref_trained = _reference(qwen, MULTI["messages"])
    assert ids == ref_ids and trained == ref_trained
    text = qwen.decode([ids[j] for j in sorted(trained)])
    assert text == "2 + 3 = 5. The answer is 5.<|im_end|>5 * 4 = 20, so 20.<|im_end|>19<|im_end|>"
    (ids_final, trained_final), = _ours(qwen, MULTI)  # loss_on final (the default): the last turn only
    assert ids_final == ids and qwen.decode([ids[j] for j in sorted(trained_final)]) == "19<|im_end|>"


def test_tool_calls_rendered_by_the_template_and_masked(qwen):
    (ids, trained), = _ours(qwen, TOOL_RECORD, loss_on="assistant")
    ref_ids, ref_trained = _reference(qwen, TOOL_RECORD["messages"], tools=TOOLS)
    assert ids == ref_ids and trained == ref_trained
    text = qwen.decode(ids)
    assert '"name": "add"' in text and "<tool_response>\n42\n</tool_response>" in text and "# Tools" in text
    trained_text = qwen.decode([ids[j] for j in sorted(trained)])
    assert trained_text == ('<tool_call>\n{"name": "add", "arguments": {"a": 17, "b": 25}}\n</tool_call><|im_end|>'
                            "17 + 25 = 42.<|im_end|>")  # the tool result and the user turn are never trained


def test_thinking_turn_by_turn_on_the_stripped_history(qwen3):
    seqs = _ours(qwen3, THINK, loss_on="assistant")
    assert len(seqs) == 2  # the template strips the first turn's thinking once a user turn follows
    stripped = [{"role": m["role"], "content": m["content"]} for m in THINK["messages"]]
    stripped[1] = {"role": "assistant", "content": "5"}
    first = [THINK["messages"][0], {"role": "assistant", "content": "5", "reasoning_content": "2 and 3 make 5."}]
    for (ids, trained), msgs in zip(seqs, (first, stripped)):
        ref_ids, _ = _reference(qwen3, msgs)
        ctx = _ids(qwen3.apply_chat_template(msgs[:-1], add_generation_prompt=True, tokenize=True))
        assert ids == ref_ids and trained == set(range(len(ctx), len(ref_ids)))
    second = qwen3.decode([seqs[1][0][j] for j in sorted(seqs[1][1])])
    assert second == "<think>\n5 times 4 is 20.\n</think>\n\n20<|im_end|>"
    assert "2 and 3 make 5" not in qwen3.decode(seqs[1][0])  # the history as inference renders it
    keep = _ours(qwen3, THINK, loss_on="assistant", history_thinking="keep")  # the template strips it anyway
    assert [k[0] for k in keep] == [k[0] for k in seqs]
    # think_loss false: the answer alone is trained, the think block is context
    (ids, trained), _ = _ours(qwen3, THINK, loss_on="assistant", think_loss=False)
    assert qwen3.decode([ids[j] for j in sorted(trained)]) == "5<|im_end|>"


def test_history_thinking_keep_on_a_template_without_reasoning(qwen):
    """Qwen2.5 renders no reasoning_content: thinking is written inline; keep = one sequence with every
    turn's thinking, strip = a sequence per turn after a thinking turn, its history without it."""
    (ids, trained), = _ours(qwen, THINK, loss_on="assistant", history_thinking="keep")
    text = qwen.decode([ids[j] for j in sorted(trained)])
    assert text == ("<think>\n2 and 3 make 5.\n</think>\n\n5<|im_end|>"
                    "<think>\n5 times 4 is 20.\n</think>\n\n20<|im_end|>")
    strip = _ours(qwen, THINK, loss_on="assistant")
    assert len(strip) == 2 and "2 and 3 make 5" not in qwen.decode(strip[1][0])


def test_enable_thinking_and_the_empty_think_block(qwen3):
    record = {"enable_thinking": False, "messages": [{"role": "user", "content": "2+3?"},
                                                      {"role": "assistant", "content": "5"}]}
    (ids, trained), = _ours(qwen3, record)
    ctx = _ids(qwen3.apply_chat_template(record["messages"][:1], add_generation_prompt=True, tokenize=True,
                                         enable_thinking=False))
    assert qwen3.decode(ctx).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # in the prompt
    assert ids[:len(ctx)] == ctx and qwen3.decode([ids[j] for j in sorted(trained)]) == "5<|im_end|>"
    record.pop("enable_thinking")  # thinking on, a reply without thinking: the empty block is the model's
    (ids, trained), = _ours(qwen3, record)
    assert qwen3.decode([ids[j] for j in sorted(trained)]) == "<think>\n\n</think>\n\n5<|im_end|>"


@pytest.mark.parametrize("record, message", [
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "",
                                                      "tool_calls": [{"function": {"arguments": {}}}]}]},
     r"messages\[1\].tool_calls\[0\] has no function name"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "42"}]},
     r"messages\[1\]: a tool message without a preceding assistant tool call"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                   {"role": "tool", "content": "42"}]},
     r"messages\[2\]: a tool message without a preceding assistant tool call"),
    ({"messages": [{"role": "user", "content": "q"}], "weight": -1}, r"field 'weight' must be a finite number >= 0"),
    ({"messages": [{"role": "user", "content": "q"}], "enable_thinking": "yes"},
     "field 'enable_thinking' must be true or false"),
])
def test_record_errors_name_file_and_line(tmp_path, record, message):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "ok"}]}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataError, match=rf"d.jsonl:2: {message}"):
        load_examples(path)


def test_a_template_without_tool_support_is_refused_naming_the_record(tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<e>": 1},
                                                                              unk_token="<unk>")),
                                  unk_token="<unk>", eos_token="<e>", additional_special_tokens=["<e>"])
    tok.chat_template = "{% for m in messages %}{{ m.role }}: {{ m.content }}<e>{% endfor %}"
    path = tmp_path / "tools.jsonl"
    path.write_text(json.dumps(TOOL_RECORD) + "\n")
    example, = load_examples(path)
    with pytest.raises(UserInputError, match=r"tools.jsonl:1: template chat: .* does not render tool calls"):
        chat_sequences(tok, example, ChatOptions(loss_on="assistant"))


@pytest.mark.slow
def test_every_assistant_turn_and_tool_calls_on_smollm2(smollm2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2)
    (ids, trained), = _ours(tok, MULTI, loss_on="assistant")
    ref_ids, ref_trained = _reference(tok, MULTI["messages"])
    assert ids == ref_ids and trained == ref_trained
    assert tok.decode([ids[j] for j in sorted(trained)]).count("<|im_end|>") == 3
    (ids, trained), _ = _ours(tok, THINK, loss_on="assistant")  # inline thinking, stripped from the history
    assert tok.decode([ids[j] for j in sorted(trained)]) == "<think>\n2 and 3 make 5.\n</think>\n\n5<|im_end|>"
    with pytest.raises(UserInputError, match="does not render tool calls"):  # SmolLM2's template has no tools
        _ours(tok, TOOL_RECORD)


def test_check_template_reports_parity_and_each_differing_token(tmp_path, qwen_tok, qwen3, capsys):
    from tracesft.cli import main

    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (MULTI, TOOL_RECORD, THINK)))
    qwen3.save_pretrained(tmp_path / "qwen3")
    assert main(["data", "inspect", str(data), "--tokenizer", str(tmp_path / "qwen3"), "--check-template",
                 "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 records, 7 trained turns (loss_on assistant, history_thinking strip): training and inference tokens " \
           "agree" in out
    assert f"--- {data}:1 sequence 3 of 3 (trained tokens in [[ ]]; think_loss true):" in out
    assert "<|im_start|>assistant\n[[<think>\n\n</think>\n\n19<|im_end|>]]" in out
    # a template with no newline after the generation prompt: "assistant" + "s ..." merge into one token
    # when the whole conversation is tokenized, but not when the model writes "s" after the prompt
    glued = with_template(qwen_tok, "{% for m in messages %}<|im_start|>{{ m.role }}{{ m.content }}<|im_end|>"
                                    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant{% endif %}")
    glued.save_pretrained(tmp_path / "glued")
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                             {"role": "assistant", "content": "s are fine"}]}) + "\n")
    assert main(["data", "inspect", str(data), "--tokenizer", str(tmp_path / "glued"), "--check-template", "5"]) == 1
    out = capsys.readouterr().out
    assert "1 records, 1 trained turns" in out and "1 turn(s) differ" in out
    assert f"{data}:1 messages[1]: the context's tokens differ once the turn is added" in out


def test_training_every_turn_of_chat_tool_and_thinking_records(tmp_path, qwen3):
    """train end to end on the three kinds with loss_on assistant: the summary counts sequences and turns."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.train import TrainConfig, train

    tiny_qwen2(vocab_size=len(qwen3), hidden_size=16, num_hidden_layers=1).save_pretrained(tmp_path / "model")
    qwen3.save_pretrained(tmp_path / "model")
    rows = [MULTI, TOOL_RECORD, THINK, {**MULTI, "weight": 0.5}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = TrainConfig(model=str(tmp_path / "model"), train_data=str(tmp_path / "train.jsonl"), template="chat",
                      reward="free_form", loss_on="assistant", max_length=256, micro_batch_size=10, max_steps=1,
                      output_dir=str(tmp_path / "run"), progress=False, plots=False).validate()
    summary = train(cfg)
    # the Qwen3-style template writes an empty think block into the latest assistant turn only, so no
    # turn's render continues the previous one: a sequence per turn (10), each on the history as rendered
    assert summary["chat"] == {"loss_on": "assistant", "trained_turns": 3 + 2 + 2 + 3, "sequences": 10}
    assert summary["weights"] == {"n_weighted": 1, "n_zero": 0, "sum": 3.5}
    assert summary["steps"] == 1 and summary["n_train"] == 10


def test_max_length_cuts_inside_a_later_turn_and_drops_a_sequence_with_no_trained_token(qwen):
    sequences = chat_sequences(qwen, _parse_record(MULTI), ChatOptions(loss_on="assistant"))
    whole = build_segment_train_set(sequences, qwen, max_length=4096)
    (a1, b1), (a2, b2), (a3, b3) = whole.spans[0]
    cut = build_segment_train_set(sequences, qwen, max_length=a2 + 3)
    assert cut.spans == [[(a1, b1), (a2, a2 + 3)]] and cut.input_ids[0] == whole.input_ids[0][:a2 + 3]
    assert (cut.n_truncated, cut.n_dropped, cut.kept) == (1, 0, [0])
    gone = build_segment_train_set(sequences, qwen, max_length=a1)
    assert (len(gone), gone.n_dropped) == (0, 1)


def test_chat_keys_need_the_chat_template():
    from tracesft.train import TrainConfig

    for key, value in (("loss_on", "assistant"), ("history_thinking", "keep"), ("think_loss", False)):
        with pytest.raises(ConfigError, match=rf"{key}: .*, but template is auto"):
            TrainConfig(model="m", train_data="d", **{key: value}).validate()
    with pytest.raises(ConfigError, match="loss_on: 'every' is not one of final, assistant"):
        TrainConfig(model="m", train_data="d", template="chat", loss_on="every").validate()


def test_a_template_that_raises_is_one_line_naming_the_record(tmp_path, qwen):
    strict = with_template(qwen, "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role "
                                 "not supported') }}{% endif %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    path = tmp_path / "sys.jsonl"
    path.write_text(json.dumps(MULTI) + "\n")
    example, = load_examples(path)
    with pytest.raises(UserInputError, match=rf"template chat: {path}:1: the chat template fails on messages\[:7\]: "
                                             "System role not supported"):
        chat_sequences(strict, example)


def test_add_eos_under_chat_ends_the_last_trained_turn_with_eos(qwen):
    sequences = chat_sequences(qwen, _parse_record(MULTI), ChatOptions(loss_on="assistant"))
    plain = build_segment_train_set(sequences, qwen, max_length=4096)
    eos = build_segment_train_set(sequences, qwen, max_length=4096, add_eos=[True])
    (_, end), = plain.spans[0][-1:]
    assert eos.input_ids[0] == plain.input_ids[0][:end] + [qwen.eos_token_id] + plain.input_ids[0][end:]
    assert eos.spans[0] == plain.spans[0][:-1] + [(plain.spans[0][-1][0], end + 1)]
