"""Toneless pinyin read into Chinese words (index.text.pinyin): real pypinyin readings, hand-made vocabularies."""
from __future__ import annotations

import pytest

from index.text import pinyin
from index.text.pinyin import (
    CommonWords,
    PinyinReader,
    Readings,
    common_words,
    looks_like_pinyin,
    split_syllables,
    word_tables,
)

# the index's words and in how many passages each occurs
INDEX_WORDS = {"帮信罪": 3, "以贷养贷": 2, "还款": 5, "态度": 9, "网贷": 8, "逾期": 10, "失信": 4, "被执行人": 4}
# a general word list (jieba's role, frequencies out of TOTAL)
COMMON_WORDS = {"太多": 300, "了": 50000, "太": 9000, "多": 8000, "西安": 700, "现在": 4000, "怎么办": 900,
                "态度": 5000, "换": 3000, "款": 2000, "还": 20000, "帮": 3000, "信": 2000, "醉": 200, "醉态": 20,
                "多乐": 10, "咬伤": 200, "们": 300, "要": 60000, "上门": 900, "说": 40000}
TOTAL = 1_000_000


def _common() -> CommonWords:
    readings = Readings(COMMON_WORDS)
    return CommonWords(word_tables(COMMON_WORDS, TOTAL, readings), COMMON_WORDS, TOTAL, readings)


@pytest.fixture(scope="module")
def reader() -> PinyinReader:
    return PinyinReader.build(INDEX_WORDS, _common())


def test_syllables_split_the_fewest_way():
    assert split_syllables("beizhixingren") == ["bei", "zhi", "xing", "ren"]
    assert split_syllables("xian") == ["xian"]
    assert split_syllables("huankuan") == ["huan", "kuan"]
    assert split_syllables("them") is None and split_syllables("lawsuit") is None
    assert split_syllables("sue") == ["su", "e"]  # pinyin too; only reading it into words decides


def test_a_pinyin_question_reads_into_the_index_words(reader):
    assert reader.read("bang xin zui 会不会留案底") == "帮信罪 会不会留案底"
    assert reader.read("yi dai yang dai 怎么破") == "以贷养贷 怎么破"
    assert reader.read("shixin beizhixingren 会影响子女考公吗") == "失信被执行人 会影响子女考公吗"
    assert reader.read("wangdai yuqi 一年") == "网贷逾期 一年"


def test_other_readings_reach_words_the_usual_reading_misses(reader):
    # pypinyin's usual reading of 还款 is "hai kuan"; people type "huan kuan" (not 换款)
    assert reader.read("网贷 huankuan") == "网贷 还款"


def test_the_likeliest_cut_wins_not_the_longest_first(reader):
    # longest-first would read 说 咬伤 们; 说 要 上门 is far likelier
    assert reader.read("shuo yao shangmen") == "说要上门"
    # a rare cut (醉态, 多乐) must not break the index's own word 帮信罪
    assert reader.read("bang xin zui tai duo le") == "帮信罪太多了"


def test_english_and_lone_syllables_stay_as_typed(reader):
    for text in ("can I sue them", "my mom wants to pay my 网贷", "after lawsuit还能negotiate分期吗",
                 "APP 逾期", "QQ号被盗", "wifi"):
        assert reader.read(text) == text
    assert reader.read("le le") == "le le"  # syllables, but they read into no word of two or more
    assert not looks_like_pinyin("can I sue them") and looks_like_pinyin("bang xin zui")


def test_an_apostrophe_splits_syllables(reader):
    assert reader.read("xi'an") == "西安"


def test_common_words_are_cached_on_disk_and_rebuilt_when_broken(tmp_path, monkeypatch, caplog):
    calls = []

    def words() -> dict[str, int]:
        calls.append(1)
        return COMMON_WORDS

    monkeypatch.setattr(pinyin, "_COMMON", {})
    common = common_words("t1", words, tmp_path)
    assert common.table.get(("tai", "duo"))[0] == "太多" and common.table.get(("wu", "ren")) is None
    (cached,) = tmp_path.glob("pinyin-t1-*.sqlite")
    monkeypatch.setattr(pinyin, "_COMMON", {})  # a new process: the file answers
    assert isinstance(common_words("t1", words, tmp_path).table, pinyin.SqliteTable)
    assert common_words("t1", words, tmp_path).table.get(("xi", "an"))[0] == "西安"
    cached.write_bytes(b"not a database" * 100)
    monkeypatch.setattr(pinyin, "_COMMON", {})
    assert common_words("t1", words, tmp_path).table.get(("tai", "duo"))[0] == "太多"
    assert "unreadable" in caplog.text


def test_an_unwritable_cache_keeps_the_table_in_memory(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(pinyin, "_COMMON", {})
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    common = common_words("t2", lambda: COMMON_WORDS, blocked)
    assert isinstance(common.table, dict) and "could not cache" in caplog.text
    assert PinyinReader.build(INDEX_WORDS, common).read("bang xin zui tai duo le") == "帮信罪太多了"
