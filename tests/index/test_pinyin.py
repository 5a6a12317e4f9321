"""Toneless pinyin read into Chinese words (index.pinyin): real pypinyin readings, hand-made vocabularies."""
from __future__ import annotations

import pytest

from index import pinyin
from index.pinyin import PinyinReader, common_tables, looks_like_pinyin, split_syllables

# the index's words and in how many passages each occurs
INDEX_WORDS = {"帮信罪": 3, "以贷养贷": 2, "还款": 5, "态度": 9, "网贷": 8, "逾期": 10, "失信": 4, "被执行人": 4}
# a general word list (jieba's role): 太多 is rare in it, and still the right reading of "tai duo"
COMMON_WORDS = {"太多": 3, "了": 5000, "太": 900, "多": 800, "西安": 700, "现在": 4000, "怎么办": 900}


@pytest.fixture(scope="module")
def reader() -> PinyinReader:
    return PinyinReader.build(INDEX_WORDS, pinyin._tables(COMMON_WORDS))


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
    # pypinyin's usual reading of 还款 is "hai kuan"; people type "huan kuan"
    assert reader.read("网贷 huankuan") == "网贷 还款"
    # ...but a usual reading wins over a rare one: 度 read duó would make "tai duo" 态度
    assert reader.read("saorao tai duo le").endswith("太多了")


def test_english_and_lone_syllables_stay_as_typed(reader):
    for text in ("can I sue them", "my mom wants to pay my 网贷", "after lawsuit还能negotiate分期吗",
                 "APP 逾期", "QQ号被盗", "wifi"):
        assert reader.read(text) == text
    assert reader.read("le le") == "le le"  # syllables, but they read into no word of two or more
    assert not looks_like_pinyin("can I sue them") and looks_like_pinyin("bang xin zui")


def test_an_apostrophe_splits_syllables(reader):
    assert reader.read("xi'an") == "西安"


def test_common_tables_are_cached_on_disk_and_rebuilt_when_broken(tmp_path, monkeypatch, caplog):
    calls = []

    def words() -> dict[str, int]:
        calls.append(1)
        return COMMON_WORDS

    monkeypatch.setattr(pinyin, "_COMMON", {})
    usual, _ = common_tables("t1", words, tmp_path)
    assert usual[("tai", "duo")] == "太多" and len(calls) == 1
    (cached,) = tmp_path.glob("pinyin-t1-*.json")
    monkeypatch.setattr(pinyin, "_COMMON", {})  # a new process: the file answers, the word list is not read
    assert common_tables("t1", words, tmp_path)[0] == usual and len(calls) == 1
    cached.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(pinyin, "_COMMON", {})
    assert common_tables("t1", words, tmp_path)[0] == usual and len(calls) == 2
    assert "unreadable" in caplog.text
