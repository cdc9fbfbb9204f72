"""Tiny tokenizers for tests that need exact, hand-checkable ids."""


class CharTokenizer:
    """A minimal Hugging Face-style tokenizer: one id per character, a BOS added as special token.

    Ids are ``ord(c) - 30`` so that no real character maps to 0; BOS = 1, EOS/pad = 2.
    """

    bos_token_id = 1
    eos_token_id = 2

    def __init__(self, pad_token_id=2, add_bos=True):
        self.pad_token_id = pad_token_id
        self.add_bos = add_bos

    def encode_one(self, text, add_special_tokens=True):
        ids = [ord(c) - 30 for c in text]
        return ([self.bos_token_id] if add_special_tokens and self.add_bos else []) + ids

    def __call__(self, texts, add_special_tokens=True):
        return {"input_ids": [self.encode_one(t, add_special_tokens) for t in texts]}
