"""The questioner-aware decoder: variants, LoRA, towers, training and cached greedy decoding."""

import pytest
import torch
from transformers import GenerationConfig

from dcpipelines.core.nn.decoder import (
    DecoderSpec,
    build_gpt2,
    load_local_decoder,
    pack_decoder,
    unpack_decoder,
)
from dcpipelines.core.nn.questioner_aware import (
    VARIANTS,
    AdapterSizes,
    QuestionerAwareLM,
    token_roles,
)
from dcpipelines.core.nn.training import (
    Budget,
    ContrastSettings,
    collate_examples,
    encode_example,
    finetune,
    generate_replies,
    reply_log_likelihood,
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
        rows.append({"ids": ids, "prompt_len": n, "questioner": questioner, "cluster": (k // 2) % 2,
                     "group": (k // 2) % 2})
    return rows


def _hidden(adapted, vocab, questioner):
    ids, prompt_len = encode_example(vocab, TEXTS[0], TEXTS[1], 8, 8)
    roles = torch.tensor([token_roles(len(ids), prompt_len, questioner)])
    ids = torch.tensor([ids])
    hidden, _, _ = adapted.hidden_states(ids, torch.ones_like(ids), torch.tensor([questioner]), roles)
    return ids, hidden


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_starts_from_the_base_model(base, name):
    model, vocab = base
    spec = VARIANTS[name]
    adapted = QuestionerAwareLM(model, spec, questioners=2, clusters=2, sizes=SIZES, seed=0, groups=4)
    ids, hidden = _hidden(adapted, vocab, 1)
    _, other = _hidden(adapted, vocab, 0)
    reference = model.base_model(input_ids=ids).last_hidden_state
    if spec.id_prefix:  # the base model reading the questioner's vector in front of the tokens
        embeds = torch.cat([adapted.prefix(torch.tensor([1]))[:, None], model.get_input_embeddings()(ids)], 1)
        prefixed = model.base_model(inputs_embeds=embeds).last_hidden_state[:, 1:]
        assert torch.allclose(hidden, prefixed, atol=1e-5)
    elif spec.bottleneck_tower:  # the towers' mean halves each MLP; the new tower starts at zero
        assert not torch.allclose(hidden, reference, atol=1e-5)
        assert torch.allclose(hidden, other, atol=1e-5)
    elif spec.streams:  # the role embedding: who asks changes the state from the first step
        assert not torch.allclose(hidden, other, atol=1e-5)
    else:  # LoRA starts at zero: exactly the base model, whoever asks
        assert torch.allclose(hidden, reference, atol=1e-5)
        assert torch.allclose(other, reference, atol=1e-5)
    assert not adapted.lm.get_input_embeddings().weight.requires_grad


def test_contrast_reaches_the_specific_stream_only(base):
    """The full variant's contrastive loss has no gradient in the general tower or the general
    final norm, and a non-zero one in the role embedding and the specific towers."""
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS["full"], 2, 2, SIZES, seed=0, groups=4)
    adapted.train()
    batch = collate_examples(examples(vocab), vocab.pad_id)
    for _ in range(2):  # the first pass fills the prototype queues
        adapted.zero_grad()
        adapted.lm_loss(batch["ids"], batch["mask"], batch["labels"], batch["questioners"], batch["roles"])
        loss = adapted.stream_contrastive_loss(adapted.specific_representation(batch["roles"]),
                                               batch["questioners"], batch["clusters"],
                                               batch["groups"], 0.1)
    loss.backward()
    assert loss.item() > 0
    grads = {n: p.grad for n, p in adapted.named_parameters() if p.requires_grad}
    general = [g for n, g in grads.items() if ".mlp.general." in n]
    specific = [g for n, g in grads.items() if ".mlp.specific." in n or "role_embedding" in n]
    assert general and all(g is None or float(g.abs().sum()) == 0.0 for g in general)
    assert specific and all(g is not None and float(g.abs().sum()) > 0 for g in specific)


def questioner_world(vocab_texts=("how now", "what news", "shall we go", "is it late")):
    """Both questioners ask the same queries; the reply depends only on who asks."""
    replies = {0: "my lord , i come", 1: "away with thee , knave"}
    return list(vocab_texts), replies


@pytest.mark.parametrize("name", ["id_embedding", "dual_no_cl", "full"])
def test_questioner_aware_variants_beat_blind_where_the_questioner_decides(name):
    """Known answer: a blind model cannot rank the right reply first for both questioners of
    a query (at most half), a questioner-aware one can (all)."""
    queries, replies = questioner_world()
    vocab = WordPieceVocab.fit([*queries, *replies.values()])
    model = build_gpt2(len(vocab), DecoderSpec(layers=1, hidden=16, heads=2, max_positions=48), 0).eval()
    rows = [{"ids": encode_example(vocab, q, replies[who], 8, 8)[0],
             "prompt_len": encode_example(vocab, q, None, 8, 8)[1],
             "questioner": who, "cluster": 0, "group": 0}
            for q in queries for who in (0, 1)] * 4
    accuracy = {}
    for variant in ("blind", name):
        adapted = QuestionerAwareLM(model, VARIANTS[variant], 2, 1, SIZES, seed=0, groups=1)
        finetune(adapted, rows, vocab, Budget(60, 8, 2e-2, 3), ContrastSettings(), seed=0)
        own = reply_log_likelihood(adapted, vocab, rows[:8])
        swapped = [{**r, "ids": encode_example(vocab, queries[i // 2], replies[1 - r["questioner"]], 8, 8)[0]}
                   for i, r in enumerate(rows[:8])]
        other = reply_log_likelihood(adapted, vocab, swapped)
        accuracy[variant] = sum(a > b for a, b in zip(own, other, strict=True)) / len(own)
    assert accuracy["blind"] <= 0.5
    assert accuracy[name] >= 0.75


@pytest.mark.parametrize("name", ["id_embedding", "full"])
def test_cached_generation_matches_full_recomputation(base, name):
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS[name], 2, 2, SIZES, seed=0, groups=4)
    finetune(adapted, examples(vocab), vocab, Budget(10, 8, 1e-2, 2), ContrastSettings(), seed=0)
    prompts = [encode_example(vocab, t, None, 8, 8)[0] for t in TEXTS[:2]]
    greedy = GenerationConfig(max_new_tokens=5, do_sample=False)
    cached = generate_replies(adapted, vocab, prompts, [0, 1], greedy)
    # recompute each reply token by token without the KV cache
    for prompt, who, reply in zip(prompts, [0, 1], cached, strict=True):
        seq = list(prompt)
        for _ in range(5):
            ids = torch.tensor([seq])
            roles = torch.tensor([token_roles(len(prompt), len(prompt), who) + [1] * (len(seq) - len(prompt))])
            hidden, _, _ = adapted.hidden_states(ids, torch.ones_like(ids), torch.tensor([who]), roles)
            logits = adapted.logits(hidden[:, -1])[0]
            logits[[vocab.pad_id, vocab.bos_id, vocab.unk_id]] = -float("inf")
            if len(seq) == len(prompt):
                logits[vocab.sep_id] = -float("inf")
            token = int(logits.argmax())
            if token == vocab.sep_id:
                break
            seq.append(token)
        assert vocab.decode(seq[len(prompt):]) == reply


def test_sampling_is_seeded_and_never_repeats_a_blocked_ngram(base):
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS["blind"], 2, 2, SIZES, seed=0)
    prompts = [encode_example(vocab, t, None, 8, 8)[0] for t in TEXTS] * 4
    config = GenerationConfig(max_new_tokens=12, do_sample=True, top_p=0.9, top_k=0,
                              temperature=1.5, no_repeat_ngram_size=2)
    first = generate_replies(adapted, vocab, prompts, [0] * len(prompts), config, seed=3)
    again = generate_replies(adapted, vocab, prompts, [0] * len(prompts), config, seed=3)
    other = generate_replies(adapted, vocab, prompts, [0] * len(prompts), config, seed=4)
    assert first == again and first != other
    for prompt, reply in zip(prompts, first, strict=True):
        sequence = [*prompt, *vocab.encode(reply)]
        bigrams = list(zip(sequence, sequence[1:], strict=False))
        assert len(bigrams) == len(set(bigrams))


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
    reply = generate_replies(adapted, codec, [encode_example(codec, "hello", None, 8, 8)[0]], [0],
                             GenerationConfig(max_new_tokens=3, do_sample=False))
    assert isinstance(reply[0], str)


def test_missing_checkpoint_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="decoder_name_or_path"):
        load_local_decoder(tmp_path / "nowhere")


@pytest.mark.parametrize("layer", ["linear", "conv1d"])
def test_lora_folded_for_inference_matches_the_trained_form(layer):
    from transformers.pytorch_utils import Conv1D

    from dcpipelines.core.nn.lora import LoRA

    torch.manual_seed(0)
    wrapped = LoRA(torch.nn.Linear(6, 5) if layer == "linear" else Conv1D(5, 6), rank=2, alpha=4.0)
    torch.nn.init.normal_(wrapped.up)  # a non-zero update
    x = torch.randn(3, 4, 6)
    trained = wrapped(x)  # gradients on: base + low-rank path
    with torch.no_grad():
        folded = wrapped(x)
    assert torch.allclose(trained, folded, atol=1e-5)
    assert not torch.allclose(trained, wrapped.base(x), atol=1e-3)


def test_nucleus_draws_stay_in_the_transformers_nucleus_and_cover_it():
    from transformers.generation.logits_process import TopPLogitsWarper

    from dcpipelines.core.nn.training import nucleus_sample

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.05, 0.1, 0.8]]))
    kept = TopPLogitsWarper(0.7)(None, logits.clone()) > -float("inf")
    draws = torch.Generator().manual_seed(0)
    seen = [set(), set()]
    for _ in range(300):
        for row, token in enumerate(nucleus_sample(logits, 0.7, draws).tolist()):
            seen[row].add(token)
    assert seen == [set(torch.nonzero(k)[:, 0].tolist()) for k in kept]  # {0, 1} and {3}
    everything = {int(t) for _ in range(300) for t in nucleus_sample(logits[:1], None, draws)}
    assert everything == {0, 1, 2, 3}


@pytest.mark.parametrize("name", ["id_embedding", "full", "bottleneck_shift"])
def test_a_reply_scored_from_nobody_sees_no_questioner(base, name):
    """With a negative questioner the score is the same whichever questioner the model was
    trained for; with a real one it depends on who asks; a mixed batch is refused (ID prefix)."""
    model, vocab = base
    adapted = QuestionerAwareLM(model, VARIANTS[name], 2, 2, SIZES, seed=0, groups=4)
    finetune(adapted, examples(vocab), vocab, Budget(10, 8, 5e-2, 2), ContrastSettings(), seed=0)
    row = examples(vocab)[0]
    from dcpipelines.core.nn.training import reply_log_probs

    sums, counts = reply_log_probs(adapted, vocab, [{**row, "questioner": q} for q in (0, 1)])
    assert sums[0] != pytest.approx(sums[1]) and counts[0] == counts[1] > 0
    nobody, _ = reply_log_probs(adapted, vocab, [{**row, "questioner": -1}] * 2)
    assert nobody[0] == pytest.approx(nobody[1]) and nobody[0] not in (sums[0], sums[1])
    mean = reply_log_likelihood(adapted, vocab, [{**row, "questioner": 0}])
    assert mean[0] == pytest.approx(sums[0] / counts[0])
    if name == "id_embedding":
        with pytest.raises(ValueError, match="mixes"):
            reply_log_probs(adapted, vocab, [{**row, "questioner": -1}, {**row, "questioner": 0}])


def test_reusing_freed_memory_leaves_results_unchanged(base):
    import platform

    from dcpipelines.core.nn.allocator import reuse_freed_memory

    model, vocab = base
    ids = torch.tensor([[2, 5, 6, 3]])
    before = model(input_ids=ids).logits
    applied = reuse_freed_memory()
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    assert torch.equal(model(input_ids=ids).logits, before)
