"""Passage-level scoring (index.search.answers): spans located in a body, cards that hold them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.search.answers import AnswerSet, holds_answer, load_answers, locate, score_answers

ROOT = Path(__file__).resolve().parents[3]
BODY = "## N到底怎么算\n\n经济补偿按工作年限，**每满一年**支付一个月工资：\n\n- 满一年的部分，一年算一个月；\n- 不满六个月的，支付半个月工资。\n"


def test_a_sentence_is_found_whatever_its_markdown_and_spacing():
    span = locate(BODY, "经济补偿按工作年限，每满一年支付一个月工资：")
    assert span is not None and BODY[span[0]:span[1]].startswith("经济补偿") and BODY[span[1] - 1] == "："
    assert locate(BODY, "满一年的部分，一年算一个月；") is not None
    assert locate(BODY, "这句话不在文中") is None and locate(BODY, "  ") is None


def test_a_card_holds_an_answer_only_when_it_covers_half_of_a_span():
    span = (100, 140)
    assert holds_answer(90, 130, [span])  # 30 of 40 characters
    assert not holds_answer(130, 200, [span])  # 10 of 40: grazes it
    assert holds_answer(0, 10, [(200, 210), (5, 9)])  # any span will do
    assert not holds_answer(0, 10, [])


def test_a_broken_answers_file_names_its_line(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"qid": "q1", "article_id": "a", "sentences": ["一句"]}\n{"qid": "q2"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"answers.jsonl:2"):
        load_answers(path)


def test_the_shipped_answer_sentences_are_verbatim_in_their_articles():
    """Every label of eval/answers.jsonl is found in its article (else it could never be scored)."""
    bodies = {p.stem: p.read_text(encoding="utf-8").split("\n---", 1)[1] for p in (ROOT / "corpus").glob("*.md")}
    answers = load_answers(ROOT / "eval" / "answers.jsonl")
    qrels = {tuple(line.split("\t")[:2]) for line in (ROOT / "eval" / "qrels.tsv").read_text().splitlines()
             if line.endswith("\t2")}
    assert {(q, a) for q, arts in answers.items() for a in arts} == qrels
    missing = [(q, a, s) for q, arts in answers.items() for a, ss in arts.items() for s in ss
               if locate(bodies[a], s) is None]
    assert missing == []


@pytest.mark.slow
def test_scores_count_cards_repeats_marks_and_flags(built_index, embedder):
    from index.search.searcher import Searcher

    searcher = Searcher.open(built_index, embedder=embedder)
    hits = searcher.search("网贷逾期会有人上门催收吗", k=3)
    top = hits[0]
    answers = {"q1": {top.article_id: [top.passage[:40]]}, "q2": {top.article_id: ["这句话不在文中"]}}
    queries = {"q1": "网贷逾期会有人上门催收吗", "q2": "网贷逾期会有人上门催收吗"}
    result = score_answers(searcher, AnswerSet(queries, answers, {"n1": "专利申请要多久"}), k=3)
    assert result["answer@1"] == 0.5 and result["answer@3"] == 0.5  # q2's sentence is nowhere
    assert result["spans_not_found"] == 1 and result["questions"] == 2 and result["unanswerable"] == 1
    assert 0.0 <= result["one_char_marks"] <= 1.0 and result["noanswer_flagged"] in (0.0, 1.0)
    json.dumps(result)  # the CLI's --json prints it
