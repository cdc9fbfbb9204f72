import pytest
import torch
from helpers.char_tokenizer import CharTokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from tracesft import tokenize_prompt_and_output


def test_qwen2_tokenizer_matches_qwen25_ids(qwen_tok):
    assert qwen_tok("Hello, world!")["input_ids"] == [9707, 11, 1879, 0]
    assert qwen_tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        151643, 151644, 151645,
    ]
    assert qwen_tok.pad_token_id == qwen_tok.eos_token_id == 151643
    assert len(qwen_tok) == 151646
    # Qwen2 splits numbers into single digits; specials are atomic.
    assert qwen_tok("<|im_start|>12")["input_ids"] == [151644, 16, 17]
    assert qwen_tok.decode(qwen_tok("café  x\n")["input_ids"]) == "café  x\n"


def test_shapes_shift_and_mask_exact(char_tokenizer):
    out = tokenize_prompt_and_output(["ab", "abcd"], ["XYZ", "Q"], char_tokenizer)
    # rows: [BOS a b X Y Z] (6) and [BOS a b c d Q] (6)
    enc = char_tokenizer.encode_one
    row0 = enc("ab") + enc("XYZ", False)
    row1 = enc("abcd") + enc("Q", False)
    assert out["input_ids"].tolist() == [row0[:-1], row1[:-1]]
    assert out["labels"].tolist() == [row0[1:], row1[1:]]
    assert out["response_mask"].tolist() == [
        [False, False, True, True, True],
        [False, False, False, False, True],
    ]
    assert out["input_ids"].dtype == out["labels"].dtype == torch.int64
    assert out["response_mask"].dtype == torch.bool


def test_padding_with_nonzero_last_token(char_tokenizer):
    """The shorter row is right-padded with pad_token_id; its last real token (not 0) survives."""
    tok = type(char_tokenizer)(pad_token_id=7)
    out = tokenize_prompt_and_output(["a", "abcdef"], ["z", "zz"], tok)
    short = tok.encode_one("a") + tok.encode_one("z", False)  # [1, a, z]
    long = tok.encode_one("abcdef") + tok.encode_one("zz", False)
    length = len(long)
    padded_short = short + [7] * (length - len(short))
    assert short[-1] != 0
    assert out["input_ids"][0].tolist() == padded_short[:-1]
    assert out["labels"][0].tolist() == padded_short[1:]
    assert out["input_ids"][0, len(short) - 1].item() == short[-1]
    # The pad labels are not in the response mask; the real last token is.
    assert out["response_mask"][0].tolist() == [False, True] + [False] * (length - 3)


def test_eos_used_when_no_pad_token(char_tokenizer):
    tok = type(char_tokenizer)(pad_token_id=None)
    out = tokenize_prompt_and_output(["a", "abc"], ["z", "z"], tok)
    assert out["labels"][0, -1].item() == tok.eos_token_id


def test_prompt_gets_special_tokens_output_does_not(char_tokenizer):
    out = tokenize_prompt_and_output(["p"], ["o"], char_tokenizer)
    full = out["input_ids"][0].tolist() + [out["labels"][0, -1].item()]
    assert full == [1, ord("p") - 30, ord("o") - 30]


def test_concatenates_ids_without_retokenizing(qwen_tok):
    prompt, output = "Assistant: <think", ">"  # jointly, "<think>" may merge differently
    out = tokenize_prompt_and_output([prompt], [output], qwen_tok)
    p = qwen_tok(prompt)["input_ids"]
    o = qwen_tok(output, add_special_tokens=False)["input_ids"]
    full = p + o
    assert out["input_ids"][0].tolist() == full[:-1]
    assert out["labels"][0].tolist() == full[1:]
    assert out["response_mask"][0].sum().item() == len(o)


def test_qwen_batch_mask_counts(qwen_tok):
    prompts = ["What is 2+2?\nAssistant: <think>", "Hi"]
    outputs = [" 2+2=4 </think> <answer> 4 </answer>", " there, friend"]
    out = tokenize_prompt_and_output(prompts, outputs, qwen_tok)
    for i, o in enumerate(outputs):
        o_ids = qwen_tok(o, add_special_tokens=False)["input_ids"]
        assert out["response_mask"][i].sum().item() == len(o_ids)
        assert out["labels"][i][out["response_mask"][i]].tolist() == o_ids


def test_max_length_truncates_from_right(char_tokenizer):
    out = tokenize_prompt_and_output(["ab", "a"], ["WXYZ", "Q"], char_tokenizer, max_length=5)
    # row0 = [BOS a b W X] after truncation; L = 5
    assert out["input_ids"].shape == (2, 4)
    assert out["labels"][0].tolist() == char_tokenizer.encode_one("ab")[1:] + [ord("W") - 30, ord("X") - 30]
    assert out["response_mask"][0].tolist() == [False, False, True, True]


def test_max_length_leaving_no_output_raises_with_index(char_tokenizer):
    with pytest.raises(ValueError, match="example 1"):
        tokenize_prompt_and_output(["a", "abcdef"], ["z", "z"], char_tokenizer, max_length=4)


def test_bad_lists_raise(char_tokenizer):
    with pytest.raises(ValueError, match="differ in length"):
        tokenize_prompt_and_output(["a"], ["b", "c"], char_tokenizer)
    with pytest.raises(ValueError, match="empty"):
        tokenize_prompt_and_output([], [], char_tokenizer)
    with pytest.raises(ValueError, match="example 0"):
        tokenize_prompt_and_output(["a"], [""], char_tokenizer)


texts = st.text(alphabet="abcdefgh0123", min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts.filter(bool)), min_size=1, max_size=6), st.none() | st.integers(3, 20))
def test_property_mask_and_shift(pairs, max_length):
    char_tokenizer = CharTokenizer()
    prompts = [p for p, _ in pairs]
    outputs = [o for _, o in pairs]
    full = [char_tokenizer.encode_one(p) + char_tokenizer.encode_one(o, False) for p, o in pairs]
    if max_length is not None:
        full = [f[:max_length] for f in full]
    if any(len(f) <= len(char_tokenizer.encode_one(p)) for f, p in zip(full, prompts)):
        with pytest.raises(ValueError):
            tokenize_prompt_and_output(prompts, outputs, char_tokenizer, max_length)
        return
    out = tokenize_prompt_and_output(prompts, outputs, char_tokenizer, max_length)
    length = max(len(f) for f in full)
    assert out["input_ids"].shape == out["labels"].shape == out["response_mask"].shape == (len(pairs), length - 1)
    for i, (f, p) in enumerate(zip(full, prompts)):
        n_resp = len(f) - len(char_tokenizer.encode_one(p))
        assert out["response_mask"][i].sum().item() == n_resp
        row = f + [char_tokenizer.pad_token_id] * (length - len(f))
        assert out["labels"][i].tolist() == row[1:]
        assert out["input_ids"][i].tolist() == row[:-1]
        assert out["labels"][i][out["response_mask"][i]].tolist() == f[len(f) - n_resp:]
