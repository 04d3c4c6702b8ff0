"""The questioner-aware decoder: variants, LoRA, towers, training and cached greedy decoding."""

import pytest
import torch

from dcpipelines.core.nn.decoder import (
    DecoderSpec,
    build_gpt2,
    load_local_decoder,
    pack_decoder,
    unpack_decoder,
)
from dcpipelines.core.nn.questioner_aware import VARIANTS, AdapterSizes, QuestionerAwareLM
from dcpipelines.core.nn.training import (
    Budget,
    ContrastSettings,
    encode_example,
    finetune,
    generate_replies,
)
from dcpipelines.core.text.tokenizer import WordPieceVocab

TEXTS = ["good morrow , sir", "how fare you today", "well , i thank you", "go away , knave"]
SIZES = AdapterSizes(lora_rank=2, lora_alpha=4.0, tower_rank=4, projection_dim=8, queue_size=4)


@pytest.fixture(scope="module")
def base():
    vocab = WordPieceVocab.fit(TEXTS)
    model = build_gpt2(len(vocab), DecoderSpec(layers=1, hidden=16, heads=2, max_positions=48), 0)
    return model.eval(), vocab


def examples(vocab):
    rows = []
    for k in range(16):
        questioner = k % 2
        ids, n = encode_example(vocab, TEXTS[k % 4], TEXTS[3 if questioner else 2], 8, 8)
        rows.append({"ids": ids, "prompt_len": n, "questioner": questioner, "cluster": (k // 2) % 2})
    return rows


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_starts_as_the_base_model(base, name):
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS[name], questioners=2, clusters=2, sizes=SIZES, seed=0)
    ids = torch.tensor([encode_example(vocab, TEXTS[0], TEXTS[1], 8, 8)[0]])
    mask = torch.ones_like(ids)
    hidden, _, _ = adapted.hidden_states(ids, mask, torch.tensor([1]))
    reference = model.base_model(input_ids=ids).last_hidden_state
    if VARIANTS[name].questioner_tower:  # the mean of two towers halves the MLP at the start
        assert not torch.allclose(hidden, reference, atol=1e-5)
    elif not VARIANTS[name].id_prefix:
        assert torch.allclose(hidden, reference, atol=1e-5)
    assert all(not p.requires_grad for p in adapted.lm.parameters()
               if p is adapted.lm.get_input_embeddings().weight)


def test_full_variant_learns_who_is_asking(base):
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS["full"], 2, 2, SIZES, seed=0)
    history = finetune(adapted, examples(vocab), vocab, Budget(40, 8, 1e-2, 2),
                       ContrastSettings(), seed=0)
    assert history[-1]["lm"] < history[0]["lm"]
    assert any(h["contrastive"] > 0 for h in history)
    prompt = [encode_example(vocab, TEXTS[0], None, 8, 8)[0]] * 2
    replies = generate_replies(adapted, vocab, prompt, [0, 1], max_new_tokens=6)
    assert replies[0] != replies[1]  # same query, different questioners


def test_cached_generation_matches_full_recomputation(base):
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS["id_embedding"], 2, 2, SIZES, seed=0)
    finetune(adapted, examples(vocab), vocab, Budget(10, 8, 1e-2, 2), ContrastSettings(), seed=0)
    prompts = [encode_example(vocab, t, None, 8, 8)[0] for t in TEXTS[:2]]
    cached = generate_replies(adapted, vocab, prompts, [0, 1], max_new_tokens=5, no_repeat_ngram=0)
    # recompute each reply token by token without the KV cache
    for prompt, who, reply in zip(prompts, [0, 1], cached, strict=True):
        seq = list(prompt)
        for _ in range(5):
            ids = torch.tensor([seq])
            hidden, _, _ = adapted.hidden_states(ids, torch.ones_like(ids), torch.tensor([who]))
            logits = adapted.logits(hidden[:, -1])[0]
            logits[[vocab.pad_id, vocab.bos_id, vocab.unk_id]] = -float("inf")
            if len(seq) == len(prompt):
                logits[vocab.sep_id] = -float("inf")
            token = int(logits.argmax())
            if token == vocab.sep_id:
                break
            seq.append(token)
        assert vocab.decode(seq[len(prompt):]) == reply


def test_pack_and_unpack_round_trip(base):
    model, vocab = base
    restored, restored_vocab = unpack_decoder(
        pack_decoder(model, vocab, DecoderSpec(1, 16, 2, 48), "stamp", [1.0])
    )
    ids = torch.tensor([[2, 5, 6, 3]])
    assert restored_vocab.tokens == vocab.tokens
    assert torch.allclose(restored(input_ids=ids).logits, model(input_ids=ids).logits)


def test_a_local_checkpoint_loads_and_trains(tmp_path):
    """A tiny randomly initialised causal LM saved with a tokenizer, as a user would pass it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from dcpipelines.core.text.tokenizer import minilm_tokenizer

    tokenizer = minilm_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, codec = load_local_decoder(tmp_path)
    assert codec.bos_id == tokenizer.cls_token_id and codec.sep_id == tokenizer.sep_token_id
    adapted = QuestionerAwareLM(model, VARIANTS["dual_no_cl"], 2, 1, SIZES, seed=0)
    rows = [{"ids": encode_example(codec, "hello there", "general kenobi", 8, 8)[0],
             "prompt_len": 4, "questioner": k % 2, "cluster": 0} for k in range(8)]
    history = finetune(adapted, rows, codec, Budget(3, 4, 1e-3, 1), ContrastSettings(), seed=0)
    assert len(history) == 3
    reply = generate_replies(adapted, codec, [encode_example(codec, "hello", None, 8, 8)[0]], [0], 3)
    assert isinstance(reply[0], str)


def test_missing_checkpoint_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="decoder_name_or_path"):
        load_local_decoder(tmp_path / "nowhere")
