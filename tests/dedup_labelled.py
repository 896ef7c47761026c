"""A labelled set for dedup: distinct instructions grouped by topic, and edited copies of them.

`distinct()` returns instructions that are all different items, several per topic (so they share vocabulary);
`near_variants(text, rng)` makes paraphrase-level copies with small edits (a synonym swapped, a word
inserted or dropped, casing and punctuation changed); `exact_variants(text)` only changes case,
whitespace and punctuation.
"""

from __future__ import annotations

import random
import re

TOPICS = {
    "photosynthesis": [
        "Explain how photosynthesis converts light energy into chemical energy, and describe the role that "
        "chlorophyll plays in capturing sunlight inside the chloroplasts of green plant cells.",
        "Compare the light-dependent reactions with the Calvin cycle, listing the inputs and the outputs of "
        "each stage and saying where in the chloroplast each of them takes place.",
        "A gardener notices that her tomato plants grow slowly in the shade of a wall. Using what you know "
        "about photosynthesis, suggest two reasons for this and one experiment she could run to test them.",
        "Write a short paragraph for ten-year-old students that explains why leaves are green and why many "
        "of them turn yellow or red in autumn when the days become shorter.",
        "Summarise the passage about photosynthesis in exactly three sentences, keeping the numbers it gives "
        "for the efficiency of crop plants and leaving out the historical details.",
    ],
    "harbour": [
        "The harbour commission met in 1998 to decide whether the old breakwater should be rebuilt. Which "
        "one of the following, if true, most strengthens the engineers' argument for rebuilding it?",
        "The harbour commission met in 1998 to decide whether the old breakwater should be rebuilt. What is "
        "the main point of disagreement between the fishermen and the engineers in the passage?",
        "Rewrite the commission's announcement about the breakwater repairs as a friendly social-media post "
        "of no more than forty words, keeping the date of the public vote.",
        "List every cost estimate mentioned in the meeting transcript about the breakwater, together with "
        "the person who gave it, as a table with two columns.",
        "Translate the mayor's closing statement about the public vote on the breakwater into formal French, "
        "keeping the names of the places unchanged.",
    ],
    "python": [
        "Write a Python function that takes a list of integers and returns the length of the longest "
        "strictly increasing subsequence, and explain its time complexity.",
        "Write a Python function that reads a CSV file of orders and returns the total revenue per customer "
        "as a dictionary, skipping rows whose amount cannot be parsed.",
        "The following Python function is supposed to merge two sorted lists, but it drops the last element "
        "of the second list. Find the bug and give a corrected version.",
        "Explain the difference between a list and a tuple in Python, with one example where using a tuple "
        "is clearly the better choice and one where it is not.",
        "Write unit tests with pytest for a function that converts temperatures between Celsius and "
        "Fahrenheit, covering negative numbers, zero and invalid input.",
    ],
    "travel": [
        "Plan a three-day walking itinerary for Lisbon for a family with two young children, with one "
        "museum, one park and one place to eat local food each day.",
        "Plan a three-day cycling itinerary for Amsterdam for two retired teachers who love painting, with "
        "a museum visit each morning and a quiet canal route each afternoon.",
        "Write a polite email to a hotel in Kyoto asking whether they can store our luggage for two days "
        "after check-out while we travel to Nara and Osaka.",
        "Estimate how many taxis operate in a city of two million people, stating every assumption you make "
        "and showing each step of the calculation.",
        "Classify the sentiment of each of the following five hotel reviews as positive, negative or mixed, "
        "and justify each label in one sentence.",
    ],
    "finance": [
        "Explain what compound interest is and calculate how much 1,000 euros grows to after ten years at "
        "an annual rate of four percent, compounded monthly.",
        "Explain what inflation is and why central banks usually aim for a small positive rate rather than "
        "zero, using an example from everyday shopping.",
        "Extract every company name, date and amount of money from the following press release and return "
        "them as a JSON object with three lists.",
        "A small bakery wants to decide whether to lease or buy a new oven. Write a short memo comparing "
        "the two options over five years, including cash flow and risk.",
        "Rewrite the following paragraph about pension savings in plain language for readers with no "
        "background in finance, keeping all of the figures.",
    ],
}

SYNONYMS = {
    "explain": "describe",
    "write": "compose",
    "short": "brief",
    "list": "enumerate",
    "suggest": "propose",
    "following": "next",
    "every": "each",
    "small": "little",
    "quiet": "calm",
    "polite": "courteous",
    "clearly": "obviously",
    "usually": "typically",
    "decide": "determine",
    "main": "central",
    "returns": "gives back",
}


def distinct() -> list[str]:
    return [text for texts in TOPICS.values() for text in texts]


def exact_variants(text: str) -> list[str]:
    return [
        text.upper(),
        "  " + text.replace(" ", "   ") + "\n",
        re.sub(r"[,;:](?=\s)|[.?!]$", "", text) + " !",
    ]


def near_variants(text: str, rng: random.Random, count: int = 3) -> list[str]:
    """Copies with one to three small edits each (about 5-10% of the words of a 30-word instruction)."""
    variants = []
    for _ in range(count):
        tokens = text.split()
        for _ in range(rng.randint(1, 2)):
            edit = rng.choice(["synonym", "insert", "drop", "case"])
            position = rng.randrange(len(tokens))
            if edit == "synonym":
                swappable = [i for i, t in enumerate(tokens) if t.lower().strip(",.") in SYNONYMS]
                if swappable:
                    i = rng.choice(swappable)
                    tokens[i] = SYNONYMS[tokens[i].lower().strip(",.")]
            elif edit == "insert":
                tokens.insert(position, rng.choice(["please", "briefly", "carefully", "also"]))
            elif edit == "drop" and len(tokens) > 12:
                del tokens[position]
            else:
                tokens[position] = tokens[position].capitalize()
        variants.append(" ".join(tokens).replace(" ,", ","))
    return variants
