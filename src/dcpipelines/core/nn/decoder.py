"""The base decoder: a small GPT-2 built from a config and pre-trained here, or any local
causal-LM checkpoint; plus the text codec each one uses and its (de)serialisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from dcpipelines.core.nn.packing import pack_model, unpack_model
from dcpipelines.core.text.tokenizer import WordPieceVocab


class TextCodec(Protocol):
    """What training and generation need from a tokenizer."""

    pad_id: int
    bos_id: int
    sep_id: int

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens)."""
        ...

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``, special tokens dropped."""
        ...

    def __len__(self) -> int: ...


class HuggingFaceCodec:
    """A ``transformers`` tokenizer seen through :class:`TextCodec` (for local checkpoints)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
        sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        if bos is None or sep is None:
            raise ValueError("the checkpoint's tokenizer needs a bos/cls and a sep/eos token")
        pad = tokenizer.pad_token_id
        self.bos_id, self.sep_id = int(bos), int(sep)
        self.pad_id = int(pad) if pad is not None else self.sep_id

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``, special tokens dropped."""
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def __len__(self) -> int:
        return len(self.tokenizer)


@dataclass(frozen=True)
class DecoderSpec:
    """Size of the GPT-2 architecture decoder built from scratch, and its dropout (GPT-2's
    0.1 on embeddings, residuals and attention by default)."""

    layers: int = 3
    hidden: int = 128
    heads: int = 4
    max_positions: int = 128
    dropout: float = 0.1


def build_gpt2(vocab_size: int, spec: DecoderSpec, seed: int) -> Any:
    """A randomly initialised GPT-2 LM of the given size (weights from ``seed``); its GELU is
    GPT-2's tanh approximation computed by PyTorch's fused kernel."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=spec.max_positions, n_embd=spec.hidden,
        n_layer=spec.layers, n_head=spec.heads, resid_pdrop=spec.dropout, embd_pdrop=spec.dropout,
        attn_pdrop=spec.dropout, activation_function="gelu_pytorch_tanh", bos_token_id=2, eos_token_id=3, pad_token_id=0,
        loss_type="ForCausalLM",
    )
    return GPT2LMHeadModel(config)


def load_local_decoder(path: str | Path) -> tuple[Any, HuggingFaceCodec]:
    """A causal LM and its tokenizer from a local checkpoint folder (no network)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder}: no config.json; decoder_name_or_path must be a local causal-LM checkpoint "
            "folder (save_pretrained output with its tokenizer). Fix: point it at such a folder "
            "or set it to null to pre-train the small GPT-2 here"
        )
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return model, HuggingFaceCodec(tokenizer)


def pack_decoder(model: Any, vocab: WordPieceVocab, spec: DecoderSpec, stamp: str,
                 history: list[float]) -> dict[str, Any]:
    """A plain dict (tensors, strings, numbers) to store the pre-trained decoder."""
    return pack_model(model, spec, history, fingerprint=stamp, vocab=list(vocab.tokens))


def unpack_decoder(packed: dict[str, Any]) -> tuple[Any, WordPieceVocab]:
    """The model and vocabulary stored by :func:`pack_decoder`."""
    vocab = WordPieceVocab(list(packed["vocab"]))
    return unpack_model(packed, lambda spec: build_gpt2(len(vocab), DecoderSpec(**spec), seed=0)), vocab
