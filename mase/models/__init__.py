"""Model loading: the packaged SmolLM2 GGUF (converted once to a cached checkpoint), Hugging Face
ids, and random-init tiny models for tests.

    >>> from mase.models import load_model
    >>> model, tokenizer = load_model("tiny-llama")       # or a ModelConfig / the whole config
"""

from .loading import ByteTokenizer, cache_dir, convert_gguf, family_of, load_model, tokenize, window_prefix

__all__ = ["ByteTokenizer", "cache_dir", "convert_gguf", "family_of", "load_model", "tokenize", "window_prefix"]
