"""Answer filters: each one's rejection reason, and the answers that must pass it."""

from __future__ import annotations

import json

import pytest

from agentinstruct.quality.filters import (
    Answer,
    failure_of,
    first_failure,
    repeated_ngram_ratio,
    without_framing,
)
from agentinstruct.quality.settings import FilterSettings, LengthBounds
from quality_fixtures import make_pair, tool_pair

SETTINGS = FilterSettings()
GOOD = "The engineers argued that storms had doubled since the last repair, so rebuilding was urgent."


QUESTION = "Explain why the engineers wanted to rebuild the breakwater."
OPTIONS = "Why did the engineers want to rebuild the breakwater?\nA) storms\nB) cost\nC) tourism"


def verdict(
    answer: str,
    *,
    skill: str = "open_domain_qa",
    unanswerable: bool = False,
    settings=SETTINGS,
    instruction: str = QUESTION,
):
    failure = failure_of(Answer(skill, unanswerable, instruction, answer), settings)
    return None if failure is None else failure.reason


@pytest.mark.parametrize(
    "answer",
    [
        GOOD,
        "Steps:\n1. Measure the wall\n2. Estimate the cost",
        "Here is the function:\n```python\ndef area(r):\n    return 3.14159 * r * r\n```",
        "| option | cost |\n|---|---|\n| rebuild | 40 |",
        "Answer: B",
        "Only (A) obeys every rule.\nAnswer: A",  # an option letter, not the article "a" (run s9c)
        '{"names": ["Oslo", "Bergen"], "count": 2}',
        "It cannot be determined (the passage gives no date).",
        # s17: the working and the final answer on one line, a right answer the filter took for cut off
        "The differences grow by one each time: 3, 4, 5, 6, 7, 8, 9, so the next term in the sequence "
        "would be 57 + 9 = 66. Answer: 66",
    ],
)
def test_good_answers_pass(answer):
    assert verdict(answer) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "filter:empty_answer"),
        ("   \n ", "filter:empty_answer"),
        ("Here is the code:\n```python\ndef area(r):\n    return", "filter:truncated"),
        ("The main reasons are the cost, the storms,", "filter:truncated"),
        ("The engineers wanted to rebuild it because the", "filter:truncated"),
        ("So the answer is a", "filter:truncated"),
        (
            "The commission decided to rebuild the breakwater because the engineers showed that storms "
            "had doubled since 1990 and repairs",
            "filter:truncated",
        ),
        ('{"names": ["Oslo", "Berg', "filter:truncated"),
        ("I'm sorry, but I can't help with that request.", "filter:refusal"),
        ("As an AI language model, I do not have opinions about breakwaters.", "filter:refusal"),
        ("I am unable to provide an answer to this question.", "filter:refusal"),
        (" ".join(["The storms doubled."] * 40), "filter:repetition"),
        ("= " * 200 + "done.", "filter:repetition"),
    ],
)
def test_each_failure_has_its_reason(answer, reason):
    assert verdict(answer) == reason


def test_declining_is_expected_for_unanswerable_pairs():
    refusal = "I'm sorry, but I cannot answer this: the passage does not say when the vote took place."
    assert verdict(refusal) == "filter:refusal"
    assert verdict(refusal, unanswerable=True) is None


def test_length_bounds_per_skill():
    assert verdict("Yes.", skill="reading_comprehension") == "filter:too_short"
    assert verdict("Yes.", skill="open_domain_qa") is None
    settings = FilterSettings(skill_lengths={"open_domain_qa": LengthBounds(max_answer_words=10)})
    assert verdict(GOOD, settings=settings) == "filter:too_long"
    assert verdict(GOOD, skill="fermi", settings=settings) is None
    instruction_bound = FilterSettings(lengths=LengthBounds(min_instruction_words=50))
    assert verdict(GOOD, settings=instruction_bound) == "filter:too_short"


def test_disabled_filters_do_not_run():
    settings = FilterSettings(enabled=["empty_answer"])
    assert verdict("The main reasons are the cost, the storms,", settings=settings) is None
    assert verdict("", settings=settings) == "filter:empty_answer"


def test_pairs_are_read_from_their_messages():
    assert first_failure(make_pair("What did the engineers estimate?")) is None
    truncated = make_pair(
        "What did the engineers estimate?", answer="They estimated the cost at 40 million and"
    )
    failure = first_failure(truncated)
    assert failure.reason == "filter:truncated" and "'and'" in failure.detail
    assert first_failure(tool_pair()) is None


def test_a_trace_ending_in_a_tool_call_is_not_empty():
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    answer = Answer.from_messages(
        "tool_use",
        [
            {"role": "user", "content": "Call f for me now please"},
            {"role": "assistant", "tool_calls": [call]},
        ],
    )
    assert answer.tool_call_only and failure_of(answer, SETTINGS) is None


def test_repeated_ngram_ratio():
    assert repeated_ngram_ratio("a b c d e f g h", 2) == 0.0
    assert repeated_ngram_ratio("a b a b a b a b", 2) == pytest.approx(5 / 7)


def test_a_json_answer_is_judged_by_its_values_not_its_repeated_keys():
    # a local named-entities answer (run s12a): 13 records of {"text": ..., "type": null}
    names = ["Fenwick Weekly Gazette", "Councillor Pryce", "Council", "Garden", "February", "April"]
    names += [
        "Three years",
        "Soil test",
        "Mill Lane",
        "Station Road",
        "Growers Association",
        "March",
        "Pryce",
    ]
    records = json.dumps({"entities": [{"text": n, "type": None} for n in names]}, indent=2)
    assert repeated_ngram_ratio(records, 4) > 0.5  # as text, its syntax repeats
    assert first_failure(make_pair("List the named entities as JSON.", records)) is None
    # a record repeated in a loop still repeats its values
    looped = json.dumps([{"call": "total(2, 3.5)", "result": "an error because of a missing cost"}] * 12)
    failure = first_failure(make_pair("Give examples as JSON.", looped))
    assert failure is not None and failure.reason == "filter:repetition"


def test_an_answer_that_hands_back_the_users_text_is_an_echo():
    """Seen from a small local model: the passage (or a whole source) returned as the answer."""
    from quality_fixtures import PASSAGE

    copied = make_pair("What did the engineers argue?", PASSAGE)
    failure = first_failure(copied)
    assert failure is not None and failure.reason == "filter:echo" and "100% of its 5-grams" in failure.detail
    quoting = make_pair(
        "What did the engineers argue? Quote them.",
        f'They argued that rebuilding was urgent, quoting the report: "{PASSAGE.split(".")[0]}." '
        "Their case rested on the storm records and on what the last repair had cost the town.",
    )
    assert first_failure(quoting) is None  # a quote inside an answer of its own is fine
    edited = make_pair("Fix the spelling.", PASSAGE, skill="text_modification")
    assert first_failure(edited) is None  # rewriting skills rightly restate the input: exempt
    assert first_failure(copied, FilterSettings(echo_exempt_skills=["reading_comprehension"])) is None
    half = make_pair("What did the engineers argue?", PASSAGE[:150] + " " + GOOD + " " + GOOD.lower())
    assert first_failure(half) is None  # under 90% of its 5-grams copied


FRAMED = (
    "**Fenwick Council Approves a Garden**\n\nBy Priya Ansel\n\nIn a formal context, the following text "
    "would be more suitable for a project report:\n\n---\n\n**Fenwick Town Council Approves a Garden**\n\n"
    "The council voted 7 to 4 to lease the lot.\n\n---\n\nThis version adheres to the request by being "
    "more formal and suitable for a project report."
)


def test_framing_at_the_start_or_end_is_taken_out_and_inside_the_answer_rejected():
    # run s16 delivered a rewrite between "the following text would be more suitable for ...:" and "This
    # version adheres to the request ..."
    unframed = without_framing(FRAMED)
    assert unframed.endswith("The council voted 7 to 4 to lease the lot.")  # the grading and its rule go
    assert verdict(unframed, skill="data_to_text") == "filter:framing"  # the colon line inside stays
    plain = "Here is the revised text:\n\nThe council voted 7 to 4 to lease the lot for five years."
    assert without_framing(plain) == "The council voted 7 to 4 to lease the lot for five years."
    assert verdict(plain, skill="data_to_text") == "filter:framing"
    assert verdict(without_framing(plain), skill="data_to_text") is None
    graded = "The council voted to lease the lot.\n\nThis rewrite keeps the meaning and follows the tone."
    assert without_framing(graded) == "The council voted to lease the lot."
    assert verdict(FRAMED, skill="open_domain_qa") is None  # only skills whose answer is the text alone
    assert without_framing("Here is the revised text:\n\nShort.") == "Here is the revised text:\n\nShort."


@pytest.mark.parametrize(
    "answer",
    [
        "Here are the steps to follow:\n1. Measure the wall\n2. Estimate the cost",
        "The following three facts stand out: the vote, the rent and the lot.",
        "This story follows a keeper through one night on the rock.",
        "The keeper wrote: the following night the lamp failed.",
    ],
)
def test_text_that_only_mentions_following_or_this_is_no_framing(answer):
    assert verdict(answer, skill="creative_content") is None


def test_a_line_cut_after_the_word_answer_is_still_truncated():
    cut = "The keepers stayed on the rock through the winter storms of 1881, and the answer: the keepers were"
    assert verdict(cut) == "filter:truncated"


def test_the_generate_flags_keep_the_per_skill_length_bounds() -> None:
    """`generate` applies its quality flags to the config: a round trip through a full dump marked `lengths`
    as set, so every run held reading-comprehension tasks to 3 words, not 20 (a 6-word pair passed, s18)."""
    from agentinstruct.quality.settings import QualitySettings

    flagged = QualitySettings().with_flags(judge_model="judge", min_judge_score=3, dedup_against=["a.jsonl"])
    assert flagged.filters.bounds_for("reading_comprehension").min_instruction_words == 20
    assert flagged.judge.model == "judge" and flagged.judge.min_score == 3 and flagged.dedup.against
    own = QualitySettings.model_validate({"filters": {"lengths": {"min_instruction_words": 5}}})
    assert own.with_flags().filters.bounds_for("reading_comprehension").min_instruction_words == 5


def test_an_option_picked_under_a_task_without_options_is_a_phantom():
    """s30: a reading-comprehension summary under an open question ended "Answer: (A)"."""
    summary = "The council discussed whether to keep the garden or sell the lot for housing.\n\nAnswer: (A)"
    assert verdict(summary) == "filter:phantom_option"
    assert verdict("Storms doubled.\n**Final answer:** (A)") == "filter:phantom_option"
    assert verdict("Storms doubled.\nAnswer: B) cost") == "filter:phantom_option"
    assert verdict(summary, instruction=OPTIONS) is None
    assert verdict("Storms doubled.\n**Final answer:** (A)", instruction=OPTIONS) is None
    assert verdict("The next letter is G.\nAnswer: G") is None  # a letter, not a marked option


def test_outline_labels_kept_in_the_piece_are_filtered():
    """s36: an advertisement ran "**[Title: ...]**", "**[Paragraph 1: ...]**", "[Sentence 1: ...]"."""
    outline = (
        "**[Title: Green Earth Gardens]**\n\n**[Opening Line: Welcome to Green Earth!]**\n\n"
        "**[Paragraph 1: Discover the benefits]**\n[Sentence 1: Our gardens are green.]"
    )
    assert verdict(outline) == "filter:template_labels"
    assert verdict("Green Earth gardens are green [Note: in spring]. Visit us [1].") is None
    assert verdict("[Verse 1]\nThe lamp burns low\n[Chorus]\nLight the sea") is None
