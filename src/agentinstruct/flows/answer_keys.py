"""When an instruction agent's answer key is trusted: a re-derived key's evidence, and a key set aside.

`flows.teaching` asks the key's author to solve a task again when the teacher's answer disagrees with its
key (`key_recheck`). This module holds the two judgements that second solve needs: whether the new key
could come from the task at all, and when two keys that disagree with each other are set aside, so that
two independent answers decide as SPEC §2 row 5 asks. Asking and verifying stay in `flows.teaching`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agentinstruct.flows.outputs import only_number_is
from agentinstruct.quality.agreement import content_words, final_answer, normalise, numbers, same_answer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agentinstruct.flows.state import Chain


def key_is_derivable(key: str, chain: Chain) -> bool:
    """Whether a re-derived key could come from the task and its material: option letters, a number
    (worked out, not the task's only number read back), or words that all stand in the task or the material.

    The local author re-solved "What city did the lighthouse at Carrick Point serve?" as "Dublin", which
    neither text names, and the teacher had invented the same city: a second solve by the same model is
    evidence only where the answer can be derived.
    """
    if only_number_is(chain.instruction, key):
        return False  # the given number read back: s18's author re-keyed "400,000 pounds" of soil so
    if restates_task(key, chain.instruction):
        return False  # s30: a riddle's author re-keyed it with the riddle's whole sentence
    if re.fullmatch(r"[A-H](?:\s*(?:,|and)\s*[A-H])*", key.strip()) or numbers(normalise(key)):
        return True
    given = content_words(normalise(f"{chain.instruction}\n{chain.content}"))
    return content_words(normalise(key)) <= given


def set_aside_reason(
    skill_checks: Iterable[str],
    failed: set[str],
    keys: tuple[str, str],
    answer: str,
    second_answer: str | None,
) -> str:
    """Why the author's keys are set aside for this answer, or "" when they stand.

    Only for `answers_agree`, whose criterion is two independent answers that agree (SPEC §2 row 5; the
    key is an extra guard), and only when all of these hold: it is the one failed check; the author's two
    keys are different numbers; and the answer is a program's output that a second program, written apart,
    also prints. In run s13 the author keyed $300 + $150 + $40 as "480", then "590"; two programs printed
    490. A key checked against the answer (`answer_matches_key`) is never set aside: there the key is the
    criterion. Nor is a worded answer's: two samples of one model share its slips of mental arithmetic.
    """
    if "answers_agree" not in skill_checks or failed != {"answers_agree"} or second_answer is None:
        return ""
    first, again = (numbers(normalise(final_answer(key))) for key in keys)
    if not first or not again or first == again:
        return ""
    final = final_answer(answer)
    agreed, _ = same_answer(final, second_answer)
    if not agreed or same_answer(final, keys[0])[0] or same_answer(final, keys[1])[0]:
        return ""
    return (
        f"the key's author gave '{keys[0]}', then '{keys[1]}' when asked again, and neither agrees; two "
        f"programs written apart both print {second_answer}, so they decide (two independent answers)"
    )


#: a key holding this many of the task's content words (and this share of them) reads the task back
RESTATED_KEY_WORDS = 6
RESTATED_KEY_SHARE = 0.6


def restates_task(key: str, task: str) -> bool:
    """Whether a key is the task read back rather than its answer: most of the task's content words, and
    more than a few of them. s30's riddle author re-keyed "Lot on Mill Lane" with the riddle's whole
    sentence, which no answer agrees with and which only looks derivable because every word is given."""
    asked = content_words(normalise(task))
    shared = content_words(normalise(key)) & asked
    return len(shared) >= RESTATED_KEY_WORDS and len(shared) >= RESTATED_KEY_SHARE * len(asked)
