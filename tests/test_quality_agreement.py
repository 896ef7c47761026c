"""The answer-agreement heuristics of agentinstruct.quality.agreement: final-answer extraction,
normalisation and the lenient `same_answer` comparison used by `answers_agree`."""

from __future__ import annotations

import pytest

from agentinstruct.quality.agreement import CHECKS_HERE, final_answer, normalise, same_answer
from agentinstruct.quality.checks import CHECKS

pytestmark = pytest.mark.timeout(30)


def test_the_checks_are_registered() -> None:
    assert set(CHECKS_HERE) <= set(CHECKS)


@pytest.mark.parametrize(
    ("text", "final"),
    [
        ("Step 1...\nAnswer: 12", "12"),
        ("Work.\n**Final Answer:** 12 sheep", "12 sheep"),
        ("Work.\n### Final answer\n12", "12"),
        ("So the answer is 7.", "7"),  # a sentence's full stop is not part of the answer
        ("Therefore, the answer is: a shadow", "a shadow"),
        ("The result is \\boxed{42}", "42"),
        # the local teacher's LaTeX: a parenthesis here is math, not a justification to drop
        ("Therefore, the answer is \\(\\boxed{10}\\).", "10"),
        ("It follows that the answer is **B**.", "B"),  # "the answer is" inside a line
        ("Answer: 3.5", "3.5"),
        ("Answer: \\[ 1, 3, 5} \\]", "1, 3, 5"),
        ("So the answer is $\\boxed{\\text{Paris}}$", "Paris"),
        ("Answer: 3\nCheck: 3 x 4 = 12, as required.\nAnswer: 4", "4"),
        # the local few-shot teacher's last line (run s12b): the marker after the sentence on the same line
        ('Therefore, the class of "Mill Lane" is consonant. Answer: consonant', "consonant"),
        ("no marker at all\nlast line", "last line"),
        ("", ""),
    ],
)
def test_final_answer(text: str, final: str) -> None:
    assert final_answer(text) == final


def test_normalise() -> None:
    assert normalise("The Twenty-One Pilots!") == "21 pilots"
    assert normalise("1,440 steps.") == "1440 steps"
    assert normalise("3.5 m") == "3.5 m"


@pytest.mark.parametrize(
    ("first", "second", "agree"),
    [
        ("12", "twelve", True),
        ("12 sheep", "12", True),
        ("0.75", "3/4", True),
        ("42 (6 x 7)", "42", True),
        ("12", "13", False),
        ("A shadow.", "your shadow", True),
        ("He had hiccups. The bartender scared them away.", "the man had hiccups", True),
        ("The butler did it", "the gardener did it", False),
        ("He is not the thief", "He is the thief", False),
        ("yes", "no", False),
        ("Tuesday", "tuesday.", True),
        ("", "", False),
        # a one-word key is not matched by a long answer that happens to hold the word
        ("The quick brown fox jumps over the lazy dog.", "fox", False),
        ("The hidden word is fox", "fox", True),
        # s18: 200 words at 3 a day, "67 days" and a second answer's 66.66666666666667
        ("67 days", "66.66666666666667", True),
        ("66 days", "66.66666666666667", False),  # rounded down is another number
        ("3.3", "3.33", True),
        ("3.4", "3.33", False),
        ("0", "0.4", False),  # nothing rounds to zero here: not within 1%
        ("5 and 6", "5.5", False),
    ],
)
def test_same_answer(first: str, second: str, agree: bool) -> None:
    assert same_answer(first, second)[0] is agree


def test_an_anagrams_answer_is_exactly_the_word_its_letters_spell() -> None:
    # the lenient word match took "Learning" for the letters of "learn" (run s12b)
    import asyncio

    from agentinstruct.quality.agreement import answers_agree
    from agentinstruct.quality.checks import Candidate

    task = "Unscramble the 5 letters L-N-A-R-E to find one word. Clue: to gain knowledge. What is the word?"

    def check(answer: str):
        item = Candidate("brain_teaser", "wordplay", "", task, answer, False, details={"answer_key": "learn"})
        return asyncio.run(answers_agree(item))

    wrong = check("The letters make a word about study.\nAnswer: Learning")
    assert not wrong.ok and "is not the word the letters L-N-A-R-E spell, 'learn'" in wrong.detail
    assert check("Answer: **Learn**.").ok
    # elsewhere the lenient match stands: a key whose letters the task does not show
    details = {"answer_key": "learn"}
    other = Candidate("brain_teaser", "riddle", "", "What am I?", "Answer: learning", False, details=details)
    assert asyncio.run(answers_agree(other)).ok
