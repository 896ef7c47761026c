"""The output models of a skill's agents: a base model plus the skill's fields and rules.

A skill file can name the JSON key its task is written under (`instruction_key`), add text fields
(`instruction_fields`) and give some of them a format (`field_formats`: a format may ask for its field as
structure rather than text); this module builds the pydantic model that asks for all of them and checks them,
with an instruction type's rules (`required_fields`, `task_must_contain_any`), a skill's answer keys
(`hidden_fields`) and held-out queries (`new_queries`), and a transformation's markers
(`content_must_contain_all`). The base models live in `agentinstruct.agent_outputs`, the agents that use them
in `agentinstruct.agents`; what a format means lives in `agentinstruct.field_formats`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import jinja2
import jinja2.meta as jinja2_meta
from pydantic import AliasChoices, Field, ValidationInfo, WithJsonSchema, create_model, model_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.field_formats import (
    EMPTY_VALUES,
    FIELD_SCHEMAS,
    FieldFormat,
    normalised,
    read_against_task,
    task_conflict,
)
from agentinstruct.quality.agreement import final_answer, normalise, numbers
from agentinstruct.quality.constraint_wording import number_stated
from agentinstruct.quality.constraints import Constraint, describe, paragraphs, sentences, words
from agentinstruct.quality.execution import code_blocks
from agentinstruct.reply_problems import word_pairs
from agentinstruct.skills import InstructionType, Skill, Transformation


def with_skill_fields(
    output: type[AgentOutput],
    fields: dict[str, str],
    *,
    key: str = "instruction",
    description: str = "",
    formats: dict[str, FieldFormat] | None = None,
) -> type[AgentOutput]:
    """The output model plus a skill's extra required text fields (they follow the task fields).

    With a `key` other than "instruction", the task is asked for under that JSON key (a reply under
    "instruction" is still accepted) and read back as `.instruction` all the same. Fields with a format
    are normalised, and a value that breaks its format fails validation, so the agent is asked again.
    """
    extra: dict[str, Any] = {name: _skill_field(d, (formats or {}).get(name)) for name, d in fields.items()}
    if key != "instruction" or description:
        default = output.model_fields["instruction"].description or ""
        extra = {
            "instruction": (
                str,
                Field(
                    default="",
                    description=description or default,
                    validation_alias=AliasChoices(key, "instruction"),
                    serialization_alias=key,
                ),
            ),
            **extra,
        }
    if not extra:
        return output
    validators = {"_field_formats": _format_validator(formats)} if formats else None
    return create_model(output.__name__, __base__=output, __validators__=validators, **extra)


def _skill_field(description: str, format_name: FieldFormat | None) -> tuple[Any, Any]:
    """A skill field's type: text, or the structure its format is asked for with (`FIELD_SCHEMAS`)."""
    shape = FIELD_SCHEMAS.get(format_name or "")
    if shape is None:
        return str, Field(default="", description=description)
    return Annotated[Any, WithJsonSchema(shape)], Field(default="", description=description)


def _format_validator(formats: dict[str, FieldFormat]) -> Any:
    """A model validator that puts each formatted field in its canonical form, or names what is wrong."""

    def check_formats(self: Any) -> Any:
        if self.suitable:
            for name, format_name in formats.items():
                given = getattr(self, name, "")
                structured = isinstance(given, dict | list)
                text = given if structured else read_against_task(format_name, self.instruction, str(given))
                value, problem = normalised(format_name, text)
                problem = problem or task_conflict(format_name, self.instruction, value)
                if problem:
                    raise ValueError(f"'{name}': {problem}")
                setattr(self, name, value)
        return self

    return model_validator(mode="after")(check_formats)


def with_type_rules(output: type[AgentOutput], itype: InstructionType) -> type[AgentOutput]:
    """The output model with an instruction type's own rules: its required fields and its task phrases.

    Unchanged when the type has neither. A reply that breaks a rule fails validation, so the agent is asked
    again with the reason, before any teacher call: a small model wrote an "except_question" with no
    EXCEPT in it, and coding's "explain_code" with no code.
    """
    names, phrases, unwanted = itype.required_fields, itype.task_must_contain_any, itype.empty_fields
    if not names and not phrases and not unwanted and not itype.key_must_match:
        return output

    def check_type_rules(reply: Any, material: str) -> None:
        empty = [n for n in names if str(getattr(reply, n, "")).strip().lower() in EMPTY_VALUES]
        reference = material_code(material) if set(empty) & set(itype.filled_from_material) else ""
        for name in [n for n in empty if n in itype.filled_from_material and reference]:
            # the local model wrote "-" for the code of an explain_code task whose material holds it
            setattr(reply, name, reference)
            empty.remove(name)
        if empty:
            raise ValueError(
                f"{', '.join(repr(n) for n in empty)} is empty, but a task of this type ({itype.name}) "
                "cannot do without it: copy it from the material"
            )
        filled = [n for n in unwanted if str(getattr(reply, n, "")).strip().lower() not in EMPTY_VALUES]
        if filled:
            raise ValueError(
                f"{', '.join(repr(n) for n in filled)} must be '-' for a task of this type ({itype.name}), "
                "which shows none: describe in the task what is wanted instead"
            )
        if phrases and itype.task_closing and not any(contains_phrase(reply.instruction, p) for p in phrases):
            if ONE_ANSWER.search(reply.instruction):
                raise ValueError(
                    f"a task of this type ({itype.name}) lets several answers be right, and this one asks "
                    f"for exactly one: write it again as the type asks ({itype.intent})"
                )
            # the local model left the type's phrase out of 4 of 9 multi_select and multi_label tasks (runs
            # s9e, s10a, s10b), three times in a row each: code states it instead
            reply.instruction = f"{reply.instruction.rstrip()}\n\n{itype.task_closing}"
        if phrases and not any(contains_phrase(reply.instruction, p) for p in phrases):
            wanted = " or ".join(repr(p) for p in phrases)
            raise ValueError(
                f"a task of this type ({itype.name}) must contain {wanted}, and this one does not: "
                f"write it again as the type asks ({itype.intent})"
            )
        key = str(getattr(reply, "answer_key", "") or "")
        if key.strip().lower() not in EMPTY_VALUES and not itype.key_fits(key):
            # s39: a multi_select question with one right option, keyed "B"; the teacher answered "A, C"
            wanted = f"its key is {itype.key_description}" if itype.key_description else itype.intent
            raise ValueError(
                f"the answer_key {key.strip()!r} does not fit a task of this type ({itype.name}: "
                f"{wanted}): write the task again so that its key does"
            )

    return with_validator(output, "_type_rules", check_type_rules, with_material=True)


def material_of(info: ValidationInfo) -> str:
    """The material an agent worked from: "content" in the validation context (its prompt's variables)."""
    context = info.context if isinstance(info.context, dict) else {}
    return str(context.get("content") or "")


def material_code(material: str) -> str:
    """The material's only fenced code block (its reference code), or "" when it has none or several."""
    blocks = [code.strip("\n") for _, code in code_blocks(material)]
    return blocks[0] if len(blocks) == 1 and blocks[0].strip() else ""


def with_content_rules(output: type[AgentOutput], transformation: Transformation) -> type[AgentOutput]:
    """The transformation's output model, checking the markers its text must hold (unchanged when none).

    A small model asked for "Rule: ... / Input: ... -> Output: ..." wrote a one-line summary of the seed
    instead; the reply goes back with the markers it lacks rather than on to an instruction agent.
    """
    markers = transformation.content_must_contain_all
    if not markers:
        return output

    def check_markers(reply: Any) -> None:
        missing = [m for m in markers if not contains_phrase(reply.content, m)]
        if missing:
            raise ValueError(
                f"the content lacks {', '.join(repr(m) for m in missing)}, which this transformation "
                f"({transformation.name}) must write: write it again as asked "
                f"({transformation.description})"
            )

    return with_validator(output, "_content_rules", check_markers)


#: a task that asks for a single answer, which a type whose answers may be several cannot take
ONE_ANSWER = re.compile(
    r"\b(?:which one|exactly one|only one|just one|one (?:correct )?(?:option|label|answer))\b", re.I
)


def contains_phrase(task: str, phrase: str) -> bool:
    """Whether the task holds the phrase as whole words; a phrase in capitals must stand in capitals."""
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    flags = 0 if phrase.isupper() else re.IGNORECASE
    return re.search(rf"(?<!\w){words}(?!\w)", task, flags) is not None


def with_new_queries(output: type[AgentOutput], fields: list[str]) -> type[AgentOutput]:
    """The output model, checking that the task's held-out query and `fields` repeat no example's input.

    A small model copied the last example of its mapping into the task and then asked for it again as the
    query, so the answer stood in the task; the reply goes back with the input it repeated.
    """
    if not fields:
        return output

    def check_queries(reply: Any) -> None:
        if "?" not in reply.instruction and "___" not in reply.instruction:
            raise ValueError(
                "the task shows examples but never asks: end it with the held-out query, one new input "
                "with '?' where its output goes"
            )
        shown, queries = example_inputs(reply.instruction)
        for query in queries:
            if query in shown:
                raise ValueError(
                    f"the held-out query {query!r} repeats an example the task shows, so its answer "
                    "stands in the task: end the task with a new input that no example uses"
                )
        for name in fields:
            answered, _ = example_inputs(str(getattr(reply, name, "")))
            if answered:
                raise ValueError(f"'{name}' gives its output too: write its input alone")
            query = input_text(str(getattr(reply, name, "")))
            if query and (query in shown or query in queries):
                raise ValueError(
                    f"'{name}' ({query!r}) repeats an input the task shows: give a new input that "
                    "follows the same rule and is neither an example nor the held-out query"
                )

    return with_validator(output, "_new_queries", check_queries)


def with_task_rules(output: type[AgentOutput], skill: Skill) -> type[AgentOutput]:
    """The output model with the skill's rules on every task it writes: hidden keys, new queries, no copy
    of the material where the user turn shows it already, and no word of it where the user turn does not."""
    output = with_hidden_fields(with_new_queries(output, skill.new_queries), skill.hidden_fields)
    if skill.task_asks:
        output = with_validator(output, "_task_asks", check_task_asks)
    if user_turn_shows_material(skill):
        return with_material_not_restated(output)
    return with_validator(output, "_no_unseen_material", check_no_unseen_material)


#: what makes a task ask something: a question, a blank to fill, or a verb that sets the work
ASKING = re.compile(
    r"\?|_{3,}|\b(?:what|who|whom|whose|which|where|when|why|how|find|guess|name|determine|identify|"
    r"work\s+out|figure\s+out|solve|calculate|compute|estimate|explain|decide|tell|choose|pick|select)\b",
    re.IGNORECASE,
)


def check_task_asks(reply: Any) -> None:
    """A task that asks nothing (`Skill.task_asks`): a local riddle was one sentence of facts, "Lot on Mill
    Lane is a village with 0.3 hectares of land, where ... resulting in a vote of 7 to 4." (run s30)."""
    if not ASKING.search(str(getattr(reply, "instruction", ""))):
        raise ValueError(
            "the task states facts but asks nothing: end it with the question the solver must answer "
            "(for example 'What am I?', 'How many ...?', 'Who ...?')"
        )


#: a task that speaks of a text its user never sees: "According to the text, which department is responsible
#: for mowing the grass?" was a multiple-choice question sent alone (run s16), answered "the text states
#: that the Town Council is responsible"; s39's "What is the main point of the explainer?" named the seed by
#: its genre, and its options all began "The explainer is about..."
_TEXTS = r"(?:text|passage|article|explainer|essay|excerpt|document|notes|material|piece)"
UNSEEN_MATERIAL = re.compile(
    r"\b(?:according\s+to|based\s+on|(?:described|mentioned|stated|given)\s+in)\s+the\s+"
    r"(?:text|passage|article|scenario|notes|document|report|excerpt|material)\b"
    r"|\bthe\s+(?:text|passage|article|scenario|notes|document|excerpt)\s+(?:above|below)\b"
    r"|\b(?:main|central|primary)\s+(?:point|idea|purpose|argument|claim|theme|topic|message)\s+of\s+"
    rf"the\s+{_TEXTS}\b"
    rf"|\bthe\s+{_TEXTS}\s+(?:says|states|suggests|implies|argues|claims|discusses|mentions|is\s+about)\b"
    rf"|\b(?:does|did)\s+the\s+{_TEXTS}\s+(?:say|state|suggest|imply|argue|claim|discuss|mention)\b",
    re.IGNORECASE,
)


#: a task sent alone that speaks of code it does not show: s31's coding task was "Implement the
#: `reorder_quantity` function as described in the given code.", its code field "-"
UNSEEN_CODE = re.compile(
    r"\b(?:the|this)\s+(?:given|provided|above|following|existing|attached)\s+(?:code|snippet|program|script)\b"
    r"|\b(?:code|snippet)\s+(?:above|below)\b",
    re.IGNORECASE,
)


def check_no_unseen_material(reply: Any) -> None:
    """A task sent alone names no text its user would have to see (`UNSEEN_MATERIAL`), nor code it does not
    show (`UNSEEN_CODE`, unless the reply's `code` field holds the code shown with the task)."""
    task = str(getattr(reply, "instruction", ""))
    if found := UNSEEN_MATERIAL.search(task):
        raise ValueError(
            f'the task says "{found.group(0)}", but its user sees the task alone, without any text: ask '
            "about the facts themselves, naming who or what they concern, and give any figure the task needs"
        )
    shown = str(getattr(reply, "code", "") or "").strip().lower() not in EMPTY_VALUES or "```" in task
    if not shown and (found := UNSEEN_CODE.search(task)):
        raise ValueError(
            f'the task says "{found.group(0)}", but shows no code: put the code in "code", or describe '
            "in the task everything a solution needs (signature, behaviour, examples)"
        )


def user_turn_shows_material(skill: Skill) -> bool:
    """Whether the skill's user turn template puts the material (`content`) before the task."""
    source = (skill.directory / skill.prompts.user_turn).read_text(encoding="utf-8")
    return "content" in jinja2_meta.find_undeclared_variables(jinja2.Environment().parse(source))


#: word pairs a material needs before a task can be said to restate it, and the share of them that does
RESTATED_MIN_PAIRS = 30
RESTATED_SHARE = 0.7


def with_material_not_restated(output: type[AgentOutput]) -> type[AgentOutput]:
    """The output model, checking that the task does not copy the material the user turn shows above it.

    A local text-extraction request held the whole passage before its schema, so the user turn showed the
    passage twice (run s12a).
    """

    def check_restated(reply: Any, material: str) -> None:
        source = word_pairs(material)
        if len(source) < RESTATED_MIN_PAIRS:
            return
        if len(source & word_pairs(reply.instruction)) >= RESTATED_SHARE * len(source):
            raise ValueError(
                "the task copies the text, which the user sends with it already (above the task): write "
                "only the request, naming the parts of the text it is about"
            )

    return with_validator(output, "_material_not_restated", check_restated, with_material=True)


def length_growth(skill: Skill, itype: InstructionType | None = None) -> float:
    """The `max_growth` that holds for a type's tasks, or for the editor's (which edits every type: the
    largest); 0 for no limit, and always 0 where the skill has no constraints or its user turn does not show
    the material."""
    if not skill.constraints or not user_turn_shows_material(skill):
        return 0.0
    types = [itype] if itype else skill.instruction_types
    growths = [t.max_growth or skill.max_growth for t in types]
    return 0.0 if not all(growths) else max(growths)


FLOOR_MEASURES = {"word_count": words, "sentence_count": sentences, "paragraph_count": paragraphs}
#: a rewrite may split sentences and paragraphs, so their floors may grow this many times more than words
SPLIT_GROWTH = 2


def with_length_floors(output: type[AgentOutput], growth: float) -> type[AgentOutput]:
    """The output model, mending or sending back a task whose length floor is far beyond the text it
    rewrites.

    Unchanged for growth 0. The local model asked for "at least 600 words" of a 147-word paraphrase, and
    "at least 10 sentences" of 5 sentences' restyling (run s12b): no faithful answer could meet either.
    A floor that only the constraint list asks for (its number appears nowhere else in the request) is
    dropped, with the sentence that states it: sent back, the local agents declined three such tasks rather
    than lower the number (s13: "The text contains 68 words, which is less than the required 102"). A floor
    the request's own words ask for is sent back, as the request would still ask for it.
    """
    if not growth:
        return output

    def check_floors(reply: Any, material: str) -> None:
        text = str(getattr(reply, "content", "") or "").strip() or material
        constraints = list(getattr(reply, "constraints", []))
        beyond = [(c, p) for c in constraints if (p := _beyond_text(c, text, growth))]
        if not text.strip() or not beyond:
            return
        request = reply.instruction
        for constraint, _ in beyond:  # its sentence, and the space that set it apart from its neighbours
            sentence = re.escape(describe(constraint))
            request = re.sub(rf"(?m)^{sentence}[ \t]*|[ \t]*{sentence}", "", request)
        if any(number_stated(c.number, request) for c, _ in beyond):
            raise ValueError("; ".join(p for _, p in beyond))
        reply.constraints = [c for c in constraints if all(c is not b for b, _ in beyond)]
        reply.instruction = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", request)).strip()

    return with_validator(output, "_length_floors", check_floors, with_material=True)


def _beyond_text(constraint: Constraint, text: str, growth: float) -> str:
    """Why a constraint's length floor is beyond a rewrite of `text` ("" when it is within reach)."""
    c = constraint
    if c.kind not in FLOOR_MEASURES or c.relation == "at_most":
        return ""
    noun = c.kind.removesuffix("_count")
    count = len(FLOOR_MEASURES[c.kind](text))
    limit = max(1, math.floor(growth * count * (1 if noun == "word" else SPLIT_GROWTH)))
    if c.number <= limit:
        return ""
    return (
        f"the text above has {count} {noun}(s), and a rewrite of it holds at most about {limit}, so "
        f"'{describe(c)}' cannot be met: lower the number to {limit} or fewer, or remove the {noun} count, "
        "in the request and in constraints alike"
    )


def with_hidden_fields(output: type[AgentOutput], fields: list[str]) -> type[AgentOutput]:
    """The output model, checking that the task does not state any of `fields` as its answer.

    The local model wrote a brain teaser that ended "The answer is 0. Moses did not take any animals",
    with key "0": the teacher copied it and both agreement checks passed.
    """
    if not fields:
        return output

    def check_hidden(reply: Any) -> None:
        for name in fields:
            value = str(getattr(reply, name, "")).strip()
            if value and states_answer(reply.instruction, value):
                raise ValueError(
                    f"the task gives away its {name} ({value!r}) as the answer: remove that sentence, "
                    f"so that the task asks and {name} alone holds the answer"
                )
            if value and only_number_is(reply.instruction, value):
                raise ValueError(
                    f"the only number in the task is its {name} ({value!r}): nothing is worked out; give the "
                    "numbers the answer is found from, and ask for one that must be computed from them"
                )

    return with_validator(output, "_hidden_fields", check_hidden)


def only_number_is(task: str, answer: str) -> bool:
    """Whether a numeric answer is the one number its task states: "If the soil has a weight of 400,000
    pounds, what is the weight of the lot?" was a local math puzzle keyed 400000 (run s18)."""
    said = normalise(final_answer(answer)).split()
    if not 1 <= len(said) <= 3 or not any(word[:1].isdigit() for word in said):
        return False  # a key that is no number with perhaps a unit ("more than one who revises")
    key = numbers(" ".join(said))
    return len(key) == 1 and numbers(normalise(task)) == key


def states_answer(task: str, answer: str) -> bool:
    """Whether the task says "the answer is <answer>" or "Answer: <answer>" (any case, whole words)."""
    said = r"\b(?:the|correct|final|right)\s+(?:answer|solution)(?:\s+key)?\s+(?:is|would\s+be|will\s+be)"
    labelled = r"\b(?:answer|solution)(?:\s+key)?\s*[:=]"
    lead = rf"(?:{said}|{labelled})\s*[\"'(*]*\s*"
    pattern = lead + r"\s+".join(re.escape(word) for word in answer.split()) + r"(?!\w)"
    return re.search(pattern, task, re.IGNORECASE) is not None


_ARROW = re.compile(r"\s*(?:->|→|=>)\s*")
_LABEL = re.compile(r"^(?:[A-Za-z][A-Za-z ]{0,20}:\s*)+")
_INPUT_LINE = re.compile(r"^\s*(?:input|item|query)\s*:", re.IGNORECASE)
_OUTPUT_LINE = re.compile(r"^\s*(?:output|class|label|answer)\s*:(.*)$", re.IGNORECASE)


def example_inputs(task: str) -> tuple[set[str], list[str]]:
    """The inputs of a task's examples ("in -> out") and of its queries ("in -> ?"), normalised.

    Examples are arrow pairs on a line or between semicolons, or an "Input:" line followed by an
    "Output:" line; a pair whose output is blank or "?" is a query.
    """
    shown: set[str] = set()
    queries: list[str] = []
    pending = ""
    for segment in re.split(r"[\n;]", task):
        parts = _ARROW.split(segment, maxsplit=1)
        output_line = _OUTPUT_LINE.match(segment)
        if len(parts) == 2:
            left, right = input_text(parts[0]), parts[1]
        elif pending and output_line:
            left, right = pending, output_line.group(1)
        else:
            pending = input_text(segment) if _INPUT_LINE.match(segment) else ""
            continue
        pending = ""
        if left and _is_blank(right):
            queries.append(left)
        elif left:
            shown.add(left)
    return shown, queries


def input_text(text: str) -> str:
    """An example's input without its label ("Input:", "Item:"), quotes or case, for comparison."""
    text = _LABEL.sub("", text.strip())
    return " ".join(text.strip(" \t\"'`.,").lower().split())


def _is_blank(output: str) -> bool:
    return input_text(output).strip("?_ ") == ""


def with_validator(
    output: type[AgentOutput], name: str, check: Any, *, with_material: bool = False
) -> type[AgentOutput]:
    """The output model with one more rule: `check(reply)` raises ValueError on a suitable reply that
    breaks it, so the agent is asked again with the reason (a decline is never checked).

    With `with_material`, `check(reply, material)` also gets the material the agent worked from: the
    "content" of the validation context the agent passes (its prompt's variables), "" without one.
    """

    def check_suitable(self: Any, info: ValidationInfo) -> Any:
        if self.suitable and with_material:
            check(self, material_of(info))
        elif self.suitable:
            check(self)
        return self

    validator = model_validator(mode="after")(check_suitable)
    return create_model(output.__name__, __base__=output, __validators__={name: validator})
