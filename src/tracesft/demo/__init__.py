"""The built-in demo: a synthetic reasoning task, a tiny tokenizer and a tiny model."""
