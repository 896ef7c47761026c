"""Verifiable constraints (quality.constraints): validation, description, measurement and checking."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from agentinstruct.quality.checks import CHECKS, Candidate, resolve_checks, run_checks
from agentinstruct.quality.constraints import (
    KINDS,
    Constraint,
    check_constraint,
    check_constraints,
    conflicts,
    describe,
    detect_language,
    paragraphs,
    sentences,
    words,
)

FRENCH = (
    "Le conseil municipal a voté mardi la prolongation de la ligne de tramway jusqu'au quartier du port. "
    "Les travaux commenceront au printemps prochain et dureront deux ans."
)
ENGLISH = (
    "The city council voted on Tuesday to extend the tram line to the harbour district. "
    "Work will start next spring and take two years."
)


def c(kind: str, **fields: object) -> Constraint:
    return Constraint(kind=kind, **fields)


def ok(answer: str, constraint: Constraint) -> bool:
    result = check_constraint(answer, constraint)
    assert result is not None, "the check should apply"
    return result.ok


# (constraint, passing answer, failing answer) for every kind
CASES = [
    (c("case", text="upper"), "THE TRAM LINE GROWS BY 4.5 KM, E.G. TO THE PORT.", "THE Tram LINE GROWS."),
    (c("case", text="lower"), "the tram line grows by 4.5 km.", "the tram line grows in Lyon."),
    (c("case", text="title"), "The Lord of the Rings Returns", "The lord of the Rings"),
    (
        c("word_count", relation="at_most", number=5),
        "One two three four five.",
        "One two three four five six.",
    ),
    (c("word_count", relation="at_least", number=3), "It costs 3.5 euros.", "Too short."),
    (c("word_count", relation="exactly", number=4), "- well-known\n- e.g. cats\n- isn't", "one two three"),
    (
        c("sentence_count", relation="exactly", number=2),
        "Dr. Smith came at 3 p.m. today. He left.",
        "One. Two. Three.",
    ),
    (
        c("paragraph_count", relation="at_least", number=2),
        "First part.\n\nSecond part.",
        "One block\nof two lines.",
    ),
    (c("char_count", relation="at_most", number=10), "short", "much too long for this"),
    (c("every_sentence_starts_with", text="s"), "Sam sings. So sweet! Sure?", "Sam sings. He dances."),
    (
        c("every_word_starts_with", text="b"),
        "Big brown bears bounce, 42 (beautifully)!",
        "Big brown cats bounce.",
    ),
    (c("banned_words", words=["very", "a lot"]), "It is every bit as good, lots better.", "It is Very good."),
    (c("required_words", words=["tram", "harbour district"]), ENGLISH, "The tramway reaches the harbour."),
    (c("bullet_list", text="-", relation="exactly", number=3), "- a\n- b\n- c", "- a\n- b"),
    (c("bullet_list", text="1."), "1. first\n2. second", "Steps:\n1. first\n2. second"),
    (c("starts_with", text="Dear team,"), "  dear  Team, hello", "Hello, dear team,"),
    (c("ends_with", text="Thank you"), "Bye for now. Thank you!", "Thank you, bye."),
    (c("language", text="fr"), FRENCH, ENGLISH),
]


def test_every_kind_is_covered() -> None:
    assert {constraint.kind for constraint, _, _ in CASES} == set(KINDS)


@pytest.mark.parametrize(
    ("constraint", "good", "bad"), CASES, ids=[f"{x.kind}-{i}" for i, (x, _, _) in enumerate(CASES)]
)
def test_pass_and_fail(constraint: Constraint, good: str, bad: str) -> None:
    passed = check_constraint(good, constraint)
    failed = check_constraint(bad, constraint)
    assert passed is not None and failed is not None
    assert passed.name == failed.name == f"constraint:{constraint.kind}"
    assert passed.ok, passed.detail
    assert not failed.ok, failed.detail
    assert passed.detail and failed.detail


def test_details_say_measured_and_required() -> None:
    result = check_constraint(" ".join(["word"] * 62), c("word_count", relation="at_most", number=50))
    assert result is not None and result.detail == "62 words, at most 50 allowed"
    result = check_constraint("It is very, VERY good.", c("banned_words", words=["very", "good", "bad"]))
    assert result is not None and result.detail == "uses banned 'very', 'good'"
    result = check_constraint("Sam sings. He dances.", c("every_sentence_starts_with", text="S"))
    assert result is not None and "1 of 2 sentences" in result.detail and "He dances" in result.detail
    result = check_constraint(ENGLISH, c("language", text="fr"))
    assert result is not None and "detected English (en" in result.detail and "fr required" in result.detail


def test_words_are_robust() -> None:
    assert words("The well-known e.g. example costs $3.50, isn't it?") == [
        "The",
        "well-known",
        "e.g",
        "example",
        "costs",
        "3.50",
        "isn't",
        "it",
    ]
    assert words("- first item\n* second\n1. third\n2) fourth — end") == [
        "first",
        "item",
        "second",
        "third",
        "fourth",
        "end",
    ]
    assert len(words("市议会周二投票")) == 7
    assert words("Ünïcödé naïve café") == ["Ünïcödé", "naïve", "café"]
    assert words("... -- !!") == []


def test_sentences_handle_abbreviations_numbers_and_quotes() -> None:
    text = (
        "Dr. Smith arrived at 3.5 p.m. on Jan. 5, e.g. on time. The U.S. economy grew by 2.5%. "
        '"Really?" she asked. Then it fell... and rose again! Was it No. 5? J. K. Rowling agreed.'
    )
    assert sentences(text) == [
        "Dr. Smith arrived at 3.5 p.m. on Jan. 5, e.g. on time.",
        "The U.S. economy grew by 2.5%.",
        '"Really?" she asked.',
        "Then it fell... and rose again!",
        "Was it No. 5?",
        "J. K. Rowling agreed.",
    ]


def test_sentences_handle_bullets_headings_lowercase_and_cjk() -> None:
    assert sentences("# Title\nsome intro text\n- first item\n- second item.\n\nNew para. Second") == [
        "Title",
        "some intro text",
        "first item",
        "second item.",
        "New para.",
        "Second",
    ]
    assert sentences("the cat sat. the dog ran. all lowercase") == [
        "the cat sat.",
        "the dog ran.",
        "all lowercase",
    ]
    assert sentences("市议会周二投票。决定延伸线路！好") == ["市议会周二投票。", "决定延伸线路！", "好"]
    assert sentences("A line\nwrapped in the middle. Done.") == ["A line wrapped in the middle.", "Done."]
    assert sentences("") == [] and sentences("---") == []


def test_paragraphs() -> None:
    assert paragraphs("One\ntwo\n\n  \nThree words here.\n\n") == ["One\ntwo", "Three words here."]


def test_paragraphs_are_counted_as_a_reader_counts_them() -> None:
    letter = "Dear Mr. Pryce,\n\nThe beds are built. Thanks.\n\nWe open in May.\n\nSincerely,\n\n[Your Name]"
    assert paragraphs(letter) == ["The beds are built. Thanks.", "We open in May."]
    advert = "**Title:** Fresh Greens\n---\nGrow your own salad this spring.\n\n***\n\nJoin us today!"
    assert paragraphs(advert) == ["Grow your own salad this spring.", "Join us today!"]
    song = "Chorus:\n\nWe dig, we sow,\nwe watch it grow\n\nVerse 2:\nThe rain came down"
    assert paragraphs(song) == ["We dig, we sow,\nwe watch it grow", "Verse 2:\nThe rain came down"]
    # a short block that ends a sentence, or holds two, is a paragraph; its sentences are still counted
    assert paragraphs("Rain fell.\n\nNew para. Second") == ["Rain fell.", "New para. Second"]
    assert sentences("Intro text.\n\nDone now") == ["Intro text.", "Done now"]
    assert not ok(letter, c("paragraph_count", relation="exactly", number=5))
    assert ok(letter, c("paragraph_count", relation="exactly", number=2))


def test_starting_letters_ignore_punctuation_numbers_and_accents() -> None:
    letter = c("every_word_starts_with", text="e")
    assert ok('"Every" (eager) élan, 42 — eh?', letter)
    sentence = c("every_sentence_starts_with", text="t")
    assert ok('- **The** first.\n- "Two" more. Then 3 others.', sentence)
    assert not ok("3 cats came. Then they left.", sentence)
    assert not ok("", letter)


def test_banned_and_required_words_are_whole_words_and_case_insensitive() -> None:
    banned = c("banned_words", words=["cat", "ice cream"])
    assert ok("Cats and catalogues; icecream.", banned)
    assert not ok("The CAT sat.", banned)
    assert not ok("I like ice\ncream.", banned)
    assert not ok("the cat's toy", banned)
    required = c("required_words", words=["e.g."])
    assert ok("Fruit, e.g. apples.", required)
    assert ok("Don't.", c("banned_words", words=["don"]))


def test_bullet_list_any_marker_and_counts() -> None:
    anything = c("bullet_list")
    assert ok("- a\n* b\n• c\n3. d", anything)
    assert not ok("Just prose.", anything)
    at_least = c("bullet_list", text="*", relation="at_least", number=2)
    assert ok("* a\n\n* b\n* c", at_least)
    assert not ok("- a\n- b", at_least)
    assert not ok("*a\n*b", at_least)


def test_language_too_short_or_unknown_is_not_applicable() -> None:
    assert check_constraint("Bonjour mon ami", c("language", text="fr")) is None
    assert check_constraint("12345 67890 !!!", c("language", text="en")) is None
    assert check_constraint(ENGLISH, c("language", text="eo")) is None  # Esperanto: detector cannot tell
    assert detect_language("Sure.") is None


def test_language_detection_is_deterministic_and_normalised() -> None:
    first = [detect_language(FRENCH) for _ in range(3)]
    assert first[0] is not None and first[0][0][0] == "fr"
    assert first.count(first[0]) == 3
    chinese = detect_language("市议会周二投票决定将电车线路延伸到港口区，工程将于明年春天开始。")
    assert chinese is not None and chinese[0][0] == "zh"


@pytest.mark.parametrize(
    ("constraint", "sentence"),
    [
        (c("case", text="upper"), "The answer must be written entirely in uppercase letters."),
        (c("case", text="lower"), "The answer must be written entirely in lowercase letters."),
        (c("word_count", relation="at_most", number=50), "The answer must contain at most 50 words."),
        (c("sentence_count", number=1), "The answer must contain exactly 1 sentence."),
        (
            c("paragraph_count", relation="at_least", number=2),
            "The answer must contain at least 2 paragraphs (separated by blank lines).",
        ),
        (c("char_count", relation="at_most", number=280), "The answer must be at most 280 characters long."),
        (
            c("every_sentence_starts_with", text="s"),
            "Every sentence of the answer must start with the letter 'S'.",
        ),
        (c("every_word_starts_with", text="B"), "Every word of the answer must start with the letter 'B'."),
        (
            c("banned_words", words=["very", "really"]),
            "The answer must not use the word(s) 'very', 'really'.",
        ),
        (c("required_words", words=["tram"]), "The answer must include the word(s) 'tram'."),
        (
            c("bullet_list", text="-", number=3),
            "The answer must be a bullet list of exactly 3 items and nothing else, "
            "every line starting with '-'.",
        ),
        (c("bullet_list", text="numbered"), "The answer must be a numbered list and nothing else."),
        (c("starts_with", text="Dear team,"), "The answer must start with 'Dear team,'."),
        (c("ends_with", text="Thanks"), "The answer must end with 'Thanks'."),
        (c("language", text="French"), "The answer must be written in French (fr)."),
    ],
)
def test_describe(constraint: Constraint, sentence: str) -> None:
    assert describe(constraint) == sentence


def test_describe_every_kind() -> None:
    for constraint, _, _ in CASES:
        text = describe(constraint)
        assert text.startswith(("The answer", "Every")) and text.endswith("."), text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "word_count"}, "positive number"),
        ({"kind": "word_count", "number": -3}, "positive number"),
        ({"kind": "sentence_count", "relation": "at_most"}, "positive number"),
        ({"kind": "banned_words"}, "at least one entry in words"),
        ({"kind": "required_words", "words": ["  ", ""]}, "at least one entry in words"),
        ({"kind": "case", "text": "sideways"}, "'upper', 'lower' or 'title'"),
        ({"kind": "case"}, "'upper', 'lower' or 'title'"),
        ({"kind": "every_word_starts_with", "text": "ab"}, "one letter"),
        ({"kind": "every_sentence_starts_with", "text": "7"}, "one letter"),
        ({"kind": "bullet_list", "text": "#"}, "marker"),
        ({"kind": "bullet_list", "number": -1}, "positive item count"),
        ({"kind": "starts_with", "text": "  "}, "exact words the answer must start with"),
        ({"kind": "ends_with"}, "exact words the answer must end with"),
        ({"kind": "language", "text": "Klingon"}, "two-letter ISO 639-1 code"),
        ({"kind": "language"}, "two-letter ISO 639-1 code"),
        ({"kind": "shout"}, "kind"),
        ({"kind": "word_count", "number": 5, "relation": "about"}, "relation"),
    ],
)
def test_validator_rejects_incoherent_constraints(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Constraint.model_validate(fields)


def test_validator_normalises() -> None:
    assert c("case", text=" UPPERCASE ").text == "upper"
    assert c("case", text="Title Case").text == "title"
    assert c("every_word_starts_with", text="'S'").text == "s"
    assert c("bullet_list", text="numbered").text == "1."
    assert c("language", text="German").text == "de"
    assert c("language", text="nb").text == "no"
    assert c("banned_words", words=[" very ", "very", ""]).words == ["very"]


def test_schema_is_flat() -> None:
    schema = Constraint.model_json_schema()
    assert "$defs" not in schema and "anyOf" not in str(schema)
    assert set(schema["properties"]) == {"kind", "relation", "number", "text", "words"}
    assert all(p.get("description") for p in schema["properties"].values())
    assert schema["properties"]["kind"]["enum"] == list(KINDS)


def test_check_constraints_skips_not_applicable() -> None:
    results = check_constraints(
        "Bonjour mon ami",
        [c("language", text="fr"), c("word_count", relation="at_most", number=2)],
    )
    assert [(r.name, r.ok) for r in results] == [("constraint:word_count", False)]


def candidate(answer: str, constraints: tuple[Constraint, ...] = ()) -> Candidate:
    return Candidate("text_modification", "paraphrasing", "text", "Rewrite it.", answer, False, constraints)


def test_constraints_check_is_registered_and_summarises() -> None:
    assert "constraints" in CHECKS
    [function] = resolve_checks(["constraints"])
    assert function(candidate("anything")) is None
    assert Candidate("s", "t", "c", "i", "a", False).constraints == ()
    rules = (c("word_count", relation="at_most", number=3), c("banned_words", words=["very"]))
    ok = function(candidate("Quite good.", rules))
    assert ok is not None and ok.name == "constraints" and ok.ok and ok.detail == "all 2 met"
    bad = function(candidate("It is very good indeed.", rules))
    assert bad is not None and not bad.ok
    assert bad.detail.startswith("2 of 2 failed")
    assert (
        "word_count: 5 words, at most 3 allowed" in bad.detail
        and "banned_words: uses banned 'very'" in bad.detail
    )
    partial = function(candidate("Oui.", (c("language", text="fr"), c("word_count", number=1))))
    assert partial is not None and partial.ok and "1 not checkable" in partial.detail
    assert function(candidate("Oui.", (c("language", text="fr"),))) is None
    checks = asyncio.run(run_checks([function], candidate("Quite good.", rules)))
    assert [x.name for x in checks] == ["constraints"]


def test_an_opening_counts_as_markdown_shows_it() -> None:
    opening = c("starts_with", text="The Tower of Dunmere")
    assert ok("# The Tower of Dunmere\n\nIt stands.", opening)
    assert ok("**The Tower** of Dunmere stands.", opening)
    assert not ok("# A Tower of Dunmere", opening)
    assert not ok("Title: The Tower of Dunmere", opening)  # a label is words, not markup


def test_an_opening_or_closing_needs_words() -> None:
    for kind in ("starts_with", "ends_with"):
        with pytest.raises(ValueError, match=f"{kind} needs text: the exact words"):
            c(kind, text="-")  # the local model asked a letter to start with '-' (run s11a)
    assert c("starts_with", text="- Dear").text == "- Dear"


def test_counts_no_writer_can_promise_are_sent_back() -> None:
    exact_words, exact_chars = c("word_count", number=400), c("char_count", number=900)
    assert "exact word count is not a fair request" in conflicts([exact_words])[0]
    assert "exact character count" in conflicts([exact_chars])[0]
    too_long = [c("word_count", relation="at_least", number=700), c("sentence_count", number=200)]
    assert [p.split(";")[0] for p in conflicts(too_long)] == [
        "700 words is more than one answer holds",
        "200 sentences is more than one answer holds",
    ]
    fair = [
        c("word_count", relation="at_least", number=600),
        c("word_count", relation="at_most", number=5000),
        c("sentence_count", number=40),
        c("paragraph_count", number=12),
    ]
    assert conflicts(fair) == []


def test_conflicts_between_constraints() -> None:
    assert conflicts([]) == []
    compatible = [
        c("word_count", relation="at_least", number=20),
        c("word_count", relation="at_most", number=50),
        c("starts_with", text="Dear"),
        c("starts_with", text="dear team"),
        c("ends_with", text="thanks."),
        c("ends_with", text="Many thanks."),
        c("banned_words", words=["very"]),
        c("required_words", words=["tram"]),
        c("case", text="lower"),
    ]
    assert conflicts(compatible) == []
    problems = conflicts(
        [
            c("word_count", relation="at_least", number=80),
            c("word_count", relation="at_most", number=50),
            c("sentence_count", number=3),
            c("sentence_count", number=4),
            c("starts_with", text="Dear"),
            c("starts_with", text="Hello"),
            c("case", text="upper"),
            c("case", text="lower"),
            c("language", text="fr"),
            c("language", text="de"),
            c("every_word_starts_with", text="s"),
            c("every_word_starts_with", text="t"),
            c("banned_words", words=["Tram"]),
            c("required_words", words=["tram", "bus"]),
        ]
    )
    assert problems == [
        "the word_count constraints contradict each other; keep one",
        "the sentence_count constraints contradict each other; keep one",
        "two starts_with constraints ask for different things; keep one",
        "two case constraints ask for different things; keep one",
        "two language constraints ask for different things; keep one",
        "two every_word_starts_with constraints ask for different things; keep one",
        "both banned and required: 'tram'; drop them from one list",
    ]


def test_a_list_cannot_also_have_several_paragraphs() -> None:
    # a local bullet list of key points was also asked for "at least 2 paragraphs" (run s12a)
    bullets = c("bullet_list", text="-")
    for several in (c("paragraph_count", relation="at_least", number=2), c("paragraph_count", number=3)):
        assert any("a list is one paragraph" in p for p in conflicts([bullets, several]))
    assert conflicts([bullets, c("paragraph_count", relation="at_most", number=2)]) == []
    assert conflicts([bullets, c("paragraph_count", number=1)]) == []
    assert conflicts([c("paragraph_count", relation="at_least", number=2)]) == []


def test_a_one_letter_run_over_too_many_sentences_or_words_is_unfair() -> None:
    """s30: a blog post of at least 40 sentences that all start with 'W'; the local teacher declined."""
    sentences = [c("sentence_count", number=40), c("every_sentence_starts_with", text="W")]
    assert conflicts(sentences) == [
        "40 sentences that all start with 'w' is more than anyone can write well: require at most 12 "
        "sentences, or drop the letter constraint"
    ]
    assert conflicts([c("sentence_count", number=5), c("every_sentence_starts_with", text="W")]) == []
    assert (
        conflicts(
            [c("every_sentence_starts_with", text="W"), c("word_count", relation="at_least", number=200)]
        )
        == []
    )
    words = [c("every_word_starts_with", text="s"), c("word_count", relation="at_least", number=100)]
    assert "100 words that all start with 's'" in conflicts(words)[0]
