"""The decoder's tokenizer: MiniLM word pieces, Chinese characters kept whole."""

from dcpipelines.core.text.tokenizer import SPECIALS, WordPieceVocab, minilm_tokenizer, split_pieces


def test_word_pieces_come_from_minilm():
    pieces = split_pieces("Whiles thou art waking.")
    assert pieces == minilm_tokenizer().tokenize("Whiles thou art waking.")


def test_chinese_characters_stay_whole_where_minilm_has_unk():
    assert "[UNK]" in minilm_tokenizer().tokenize("好了没事了")
    assert split_pieces("好了没事了") == ["好", "了", "没", "事", "了"]


def test_vocab_round_trip_and_unknowns():
    vocab = WordPieceVocab.fit(["good morrow, sir", "好了没事了", "good night"], min_count=1)
    assert tuple(vocab.tokens[:4]) == SPECIALS
    assert vocab.decode(vocab.encode("good morrow, sir")) == "good morrow , sir"
    assert vocab.decode(vocab.encode("没事")) == "没事"
    assert vocab.encode("zebra") == [vocab.unk_id] * len(split_pieces("zebra"))
    rare = WordPieceVocab.fit(["good good night"], min_count=2)
    assert rare.tokens == [*SPECIALS, "good"]
