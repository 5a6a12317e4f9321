"""Repealed-statute tables and lookups, checked against the shipped data and the real 民法典 text."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from index.search.repeal import (
    REPEALED_LAWS_PATH,
    SUCCESSORS_PATH,
    Repeal,
    load_repealed_laws,
    load_successors,
    predecessors,
    related_keys,
    repeal_label,
    repeal_of,
    successor_display,
    successors,
)
from ingest.citations import cn_to_int, parse_citations, unique_keys

STARD_CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "stard" / "corpus.jsonl"
CIVIL_CODE = "中华人民共和国民法典"
NINE = ("婚姻法", "继承法", "民法通则", "收养法", "担保法", "合同法", "物权法", "侵权责任法", "民法总则")


def _key(law: str, n: int) -> str:
    return f"中华人民共和国{law} 第{n}条"


def _successor_rows() -> list[dict[str, str]]:
    lines = [ln for ln in SUCCESSORS_PATH.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"), strict=True)) for ln in lines[1:]]


# ---------------------------------------------------------------- law level


@pytest.mark.parametrize("short", NINE)
def test_all_nine_laws_repealed_by_civil_code(short):
    r = repeal_of(f"中华人民共和国{short}")
    assert r == Repeal(f"中华人民共和国{short}", short, "2021-01-01", CIVIL_CODE, r.note)
    assert r.note
    assert repeal_of(short) == r
    assert repeal_label(short) == "已废止（2021-01-01）"


def test_table_names_its_source():
    text = REPEALED_LAWS_PATH.read_text(encoding="utf-8")
    assert re.search(r"^# source: .*第一千二百六十条", text, re.M)
    assert len(load_repealed_laws()) == 9


def test_law_from_key_display_and_citation_text():
    assert repeal_of("中华人民共和国合同法 第52条").short == "合同法"
    assert repeal_of("合同法第52条").short == "合同法"
    assert repeal_of("《婚姻法》第三十二条第二款").short == "婚姻法"
    assert repeal_label("中华人民共和国侵权责任法 第6条") == "已废止（2021-01-01）"


@pytest.mark.parametrize("law", ["劳动合同法", "中华人民共和国劳动合同法", "劳动合同法第47条", "民法典第153条", "红楼梦"])
def test_laws_in_force_are_not_repealed(law):
    assert repeal_of(law) is None
    assert repeal_label(law) is None
    assert successors(law) == []


# ---------------------------------------------------------------- article level


def test_contract_law_52_both_ways():
    new = successors(_key("合同法", 52))
    assert _key("民法典", 153) in new and _key("民法典", 154) in new
    assert _key("合同法", 52) in predecessors(_key("民法典", 153))
    assert _key("合同法", 52) in predecessors(_key("民法典", 154))


@pytest.mark.parametrize(
    ("law", "old", "new"),
    [
        ("合同法", 107, 577),
        ("合同法", 114, 585),
        ("合同法", 94, 563),
        ("婚姻法", 17, 1062),
        ("婚姻法", 32, 1079),
        ("侵权责任法", 6, 1165),
        ("担保法", 18, 688),
        ("继承法", 10, 1127),
        ("物权法", 106, 311),
    ],
)
def test_well_known_successions(law, old, new):
    assert _key("民法典", new) in successors(_key(law, old))
    assert _key(law, old) in predecessors(_key("民法典", new))


def test_display_keys_in_and_out():
    assert successors("合同法第107条") == [_key("民法典", 577)]
    assert successor_display("婚姻法第32条") == ["民法典第1079条"]
    assert {"民法典第153条", "民法典第154条"} <= set(successor_display("合同法第52条"))
    assert predecessors("民法典第1079条") == [_key("婚姻法", 32)]


def test_citations_parsed_from_article_text():
    text = "根据《合同法》第五十二条规定，违反强制性规定的合同无效；离婚问题见婚姻法第三十二条。"
    keys = unique_keys(parse_citations(text))
    assert keys == [_key("合同法", 52), _key("婚姻法", 32)]
    assert _key("民法典", 153) in successors(keys[0])
    assert successors(keys[1]) == [_key("民法典", 1079)]
    assert [repeal_label(k) for k in keys] == ["已废止（2021-01-01）"] * 2


def test_related_keys_expands_both_ways_without_duplicates():
    old, new = _key("合同法", 107), _key("民法典", 577)
    assert related_keys([old]) == [old, new]
    assert related_keys([new]) == [new, old]
    assert related_keys([old, new, old]) == [old, new]
    in_force = _key("劳动合同法", 47)
    assert related_keys([in_force]) == [in_force]
    both = related_keys([_key("合同法", 52), _key("婚姻法", 32)])
    assert both[:2] == [_key("合同法", 52), _key("婚姻法", 32)]
    assert _key("民法典", 154) in both and _key("民法典", 1079) in both
    assert len(both) == len(set(both))


def test_unknown_article_of_repealed_law_has_no_successors():
    assert successors(_key("合同法", 9999)) == []
    assert predecessors(_key("民法典", 9999)) == []
    assert successors("no citation here") == []


# ---------------------------------------------------------------- the shipped table


def test_shipped_table_loads_and_covers_main_laws():
    succ = load_successors(repealed=load_repealed_laws())
    rows = _successor_rows()
    assert len(rows) >= 100 and len(succ.forward) == len(rows)
    per_law = Counter(r["old_law"] for r in rows)
    for short in ("合同法", "婚姻法", "担保法", "侵权责任法", "继承法"):
        assert per_law[f"中华人民共和国{short}"] >= 10, short
    assert all(r["new_law"] == CIVIL_CODE and r["topic"] for r in rows)


def test_bad_rows_fail_with_file_and_line(tmp_path):
    header = "old_law\told_article\tnew_law\tnew_articles\ttopic\n"
    bad = tmp_path / "succ.tsv"
    bad.write_text("# comment\n" + header + f"中华人民共和国合同法\t五十二\t{CIVIL_CODE}\t153\t无效\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"succ\.tsv:3: old_article"):
        load_successors(bad)
    bad.write_text(header + f"中华人民共和国合同法\t52\t{CIVIL_CODE}\t153;154\t无效\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"succ\.tsv:2: new_articles"):
        load_successors(bad)
    bad.write_text(header + f"中华人民共和国劳动合同法\t47\t{CIVIL_CODE}\t153\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"succ\.tsv:2: old_law"):
        load_successors(bad, repealed=load_repealed_laws())
    laws = tmp_path / "laws.tsv"
    laws.write_text("law\tshort\trepealed_on\treplaced_by\tnote\n中华人民共和国合同法\t合同法\t2021-1-1\t民法典\t\n")
    with pytest.raises(ValueError, match=r"laws\.tsv:2: repealed_on"):
        load_repealed_laws(laws)
    laws.write_text("law\tshort\trepealed_on\n")
    with pytest.raises(ValueError, match=r"laws\.tsv:1: header"):
        load_repealed_laws(laws)


def _civil_code_articles() -> dict[int, str]:
    articles: dict[int, str] = {}
    with STARD_CORPUS.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("category") == CIVIL_CODE:
                num = re.fullmatch(rf"{CIVIL_CODE}第(.+)条", rec["id"])
                assert num, rec["id"]
                articles[cn_to_int(num.group(1))] = rec["body"]
    return articles


@pytest.mark.skipif(not STARD_CORPUS.exists(), reason="STARD corpus is not beside this checkout")
def test_every_new_article_exists_and_matches_topic():
    """Each row's 民法典 articles exist and their text contains every topic word of the row."""
    code = _civil_code_articles()
    assert len(code) == 1260
    problems = []
    for r in _successor_rows():
        nums = [int(n) for n in r["new_articles"].split(",")]
        missing = [n for n in nums if n not in code]
        text = "".join(code.get(n, "") for n in nums)
        absent = [w for w in r["topic"].split() if w not in text]
        if missing or absent:
            problems.append((r["old_law"], r["old_article"], r["new_articles"], missing, absent))
    assert problems == []
