"""Validation of whole tool-use traces (SPEC §2 row 3): an OpenAI-format conversation for one request variant.

The structure (who speaks when, every call answered by its tool message) is checked here; each call and
result goes through `quality.tool_calls`; then the rules of the variant: how many functions are called,
and whether the final message asks for what is missing or declines what no API can do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from agentinstruct.quality.text import squashed
from agentinstruct.quality.tool_calls import ApiSpec, show_value, validate_tool_call, validate_tool_result

#: the instruction types of the tool_use skill (SPEC §2 row 3); each has its rules in `validate_trace`
VARIANTS = (
    "single_api_all_params",
    "single_api_extra_params",
    "single_api_missing_params",
    "multi_api_all_params",
    "multi_api_missing_params",
    "api_not_available",
    "multi_api_some_missing",
)

#: wording of an assistant that says it cannot do (part of) what was asked
DECLINE = re.compile(
    r"\b(?:cannot|can ?not|can[’']t|unable|not able|unavailable|not available|(?:is|are)n[’']t available"
    r"|no (?:tools?|functions?|apis?|way)\b|not supported"
    r"|(?:do|does)(?: not|n[’']t) (?:have|support|provide|offer)"
    r"|outside (?:of )?(?:my|the) (?:tools|capabilities|scope))",
    re.IGNORECASE,
)


def validate_trace(
    messages: list[dict[str, Any]],
    specs: Mapping[str, ApiSpec],
    variant: str,
    *,
    missing: Iterable[str] = (),
) -> list[str]:
    """Problems with a whole OpenAI-format tool-use conversation for one instruction type (`variant`).

    Structure: an optional system message first, then a user message; assistant messages carry text or
    `tool_calls` ([{id, type: "function", function: {name, arguments: JSON string}}]); every call id is
    unique and answered by exactly one following `tool` message with that `tool_call_id` and string
    content, in the order of the calls, before the next assistant or user message; the last message is
    an assistant message with text and no tool calls. Every call goes through `validate_tool_call` and
    every result through `validate_tool_result` (against the function that was called).

    `missing` names required parameters the user did not give ("function.parameter" or "parameter"); a
    call in the first user turn that supplies one of them invented it and is a problem. It applies to the
    *_missing_params variants and to unknown variants; the other known variants leave nothing out by
    definition, so a `missing` list that an instruction agent filled in by mistake is ignored for them.

    Variant rules (unknown variants, e.g. a user skill's own types, get only the structural checks):
    - single_api_all_params, single_api_extra_params: at least one call, all to one and the same function.
    - every *_all_params and *_extra_params variant: a text argument holds only what the user, a tool
      result or the API's schema gave (separators aside), never a value made up.
    - single_api_missing_params: calls (if any) go to at most one function, and the final message asks
      for the missing information (contains a question mark).
    - multi_api_all_params: calls to at least two distinct functions.
    - multi_api_missing_params: the final message asks for what is missing (a question mark); any number
      of calls may come first, since the missing value can stop the chain at any step.
    - api_not_available: no calls at all, and the final message says it cannot (`DECLINE`).
    - multi_api_some_missing: at least one call (the part the listed APIs can do; a trace without calls
      would be an api_not_available trace), and the final message says what it cannot do (`DECLINE`).
    """
    if not messages:
        return ["the trace is empty; it needs a user message and an assistant answer"]
    problems: list[str] = []
    pending: list[tuple[str, str]] = []  # (call id, function name) awaiting their tool message
    seen_ids: set[str] = set()
    calls: list[tuple[str, Any, int]] = []  # (function name, parsed arguments, user turn number)
    user_turns = 0
    start = 0
    if messages[0].get("role") == "system":
        if not isinstance(messages[0].get("content"), str):
            problems.append("message 0 (system): content must be a string")
        start = 1

    def unanswered(where: str) -> None:
        if pending:
            ids = ", ".join(f"{call_id} ({fn})" for call_id, fn in pending)
            problems.append(f"{where}: tool calls {ids} have no tool message before it")
            pending.clear()

    for index, message in enumerate(messages[start:], start):
        role = message.get("role") if isinstance(message, Mapping) else None
        where = f"message {index} ({role})"
        if role == "user":
            unanswered(where)
            user_turns += 1
            if not _text(message.get("content")):
                problems.append(f"{where}: the user message has no text")
        elif role == "assistant":
            if user_turns == 0:
                problems.append(f"{where}: the conversation must start with a user message")
            unanswered(where)
            problems += _assistant_problems(message, where, specs, pending, seen_ids, calls, user_turns)
        elif role == "tool":
            problems += _tool_problems(message, where, specs, pending)
        elif role == "system":
            problems.append(f"{where}: a system message may only come first")
        else:
            problems.append(f"{where}: unknown role; use system, user, assistant or tool")
    unanswered("end of the trace")
    final = messages[-1] if isinstance(messages[-1], Mapping) else {}
    final_text = _text(final.get("content")) if final.get("role") == "assistant" else ""
    if final.get("role") != "assistant" or final.get("tool_calls") or not final_text:
        problems.append("the trace must end with an assistant message that has text and no tool calls")
    if variant not in VARIANTS or variant.endswith("_missing_params"):
        problems += _missing_problems(calls, missing)
    problems += _variant_problems(variant, [name for name, _, _ in calls], final_text)
    if variant.endswith(("_all_params", "_extra_params")):
        said = [m for m in messages if isinstance(m, Mapping) and m.get("role") in ("user", "tool")]
        given = [_text(m.get("content")) for m in said]
        given += [json.dumps(spec.parameters) for spec in specs.values()]  # enum values, defaults
        problems += _invented_problems(calls, squashed("\n".join(given)))
    if variant == "api_not_available":
        request = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
        offered = offered_by(request, specs)
        if offered:
            problems.append(
                f"{variant}: the request asks for what {offered} does (every word of its name is in the "
                "request), so a listed API fits; the request must need an operation that none offers"
            )
    return problems


def _text(content: Any) -> str:
    return content.strip() if isinstance(content, str) else ""


def _assistant_problems(
    message: Mapping[str, Any],
    where: str,
    specs: Mapping[str, ApiSpec],
    pending: list[tuple[str, str]],
    seen_ids: set[str],
    calls: list[tuple[str, Any, int]],
    user_turn: int,
) -> list[str]:
    content, tool_calls = message.get("content"), message.get("tool_calls")
    if content is not None and not isinstance(content, str):
        return [f"{where}: content must be a string or null"]
    if tool_calls is None:
        return [] if _text(content) else [f"{where}: the assistant message has neither text nor tool calls"]
    if not isinstance(tool_calls, list) or not tool_calls:
        return [f"{where}: tool_calls must be a non-empty list (leave it out for a text answer)"]
    problems: list[str] = []
    for number, call in enumerate(tool_calls):
        spot = f"{where} tool_calls[{number}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        call_id = call.get("id") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or call.get("type") != "function":
            problems.append(f'{spot}: a tool call needs type "function" and a function object')
            continue
        if not isinstance(call_id, str) or not call_id:
            problems.append(f"{spot}: a tool call needs a non-empty string id")
            continue
        if call_id in seen_ids:
            problems.append(f"{spot}: duplicate tool call id {call_id!r}")
            continue
        seen_ids.add(call_id)
        name, arguments = function.get("name"), function.get("arguments")
        if not isinstance(name, str):
            problems.append(f"{spot}: the function name must be a string")
            continue
        pending.append((call_id, name))
        if not isinstance(arguments, str):
            problems.append(
                f"{spot}: {name}: arguments must be a JSON-encoded string, got {show_value(arguments)}"
            )
            calls.append((name, None, user_turn))
            continue
        problems += [f"{spot}: {p}" for p in validate_tool_call(name, arguments, specs)]
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            parsed = None
        calls.append((name, parsed, user_turn))
    return problems


def _tool_problems(
    message: Mapping[str, Any], where: str, specs: Mapping[str, ApiSpec], pending: list[tuple[str, str]]
) -> list[str]:
    call_id, content = message.get("tool_call_id"), message.get("content")
    ids = [pending_id for pending_id, _ in pending]
    if call_id not in ids:
        expected = f" (expected {pending[0][0]!r})" if pending else ""
        return [f"{where}: tool_call_id {call_id!r} answers no pending tool call{expected}"]
    problems: list[str] = []
    position = ids.index(call_id)
    if position:
        problems.append(f"{where}: {call_id!r} is answered before {pending[0][0]!r}; answer calls in order")
    _, name = pending.pop(position)
    if not isinstance(content, str):
        return [*problems, f"{where}: tool content must be a string (the JSON-encoded result)"]
    return problems + [f"{where}: {p}" for p in validate_tool_result(name, content, specs)]


def _missing_problems(calls: list[tuple[str, Any, int]], missing: Iterable[str]) -> list[str]:
    problems: list[str] = []
    for entry in missing:
        function, _, parameter = entry.rpartition(".")
        for name, arguments, user_turn in calls:
            if user_turn != 1 or not isinstance(arguments, Mapping) or (function and name != function):
                continue
            if parameter in arguments:
                problem = (
                    f"{name}: argument '{parameter}' was not given by the user; "
                    "ask for it instead of inventing a value"
                )
                if problem not in problems:
                    problems.append(problem)
    return problems


#: a date or time in the form an API takes it, which the user gives in words
DATE_OR_TIME = re.compile(r"^\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})")


def _invented_problems(calls: list[tuple[str, Any, int]], given: str) -> list[str]:
    """Text arguments that neither the user, a tool result nor the API's schema gave, in a variant where the
    user gives every value: s31's single_api_all_params trace called update_inventory with an inventory
    ["SKU123", "SKU456"], the second item made up."""
    problems = [
        f"{name}: argument '{key}' holds {text!r}, which neither the user nor a tool result gave: use only "
        "the values given"
        for name, key, text in _text_arguments(calls)
        if len(squashed(text)) > 1
        and not DATE_OR_TIME.match(text)  # "8 pm tonight" is rightly sent as 2025-06-01T20:00
        and squashed(text) not in given
    ]
    return list(dict.fromkeys(problems))


def _text_arguments(calls: list[tuple[str, Any, int]]) -> Iterable[tuple[str, str, str]]:
    """(function, argument, text) for every text argument, and every text item of a list argument."""
    for name, arguments, _ in calls:
        if isinstance(arguments, Mapping):
            for key, value in arguments.items():
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        yield name, key, text


#: words of a function name ("create_item", "getWeather"), split at underscores, dashes and case changes
_NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


#: the verbs a request uses for what a function name's verb does (first four letters): s16's api_not_available
#: request "increase the stock of item SKU123 by 5 units" was what update_stock does
VERB_SYNONYMS = {
    "upda": {"incr", "decr", "chan", "set", "modi", "adju", "rais", "lowe", "edit", "rest", "top"},
    "get": {"find", "show", "look", "chec", "fetc", "list", "see", "retr", "read"},
    "crea": {"add", "make", "new", "regi", "open", "star", "book", "plac"},
    "add": {"crea", "make", "new", "regi", "put", "incl", "inse"},
    "dele": {"remo", "canc", "drop", "eras", "clea"},
    "remo": {"dele", "canc", "drop", "eras", "take"},
    "list": {"show", "find", "get", "see"},
    "sear": {"find", "look"},
    "set": {"chan", "upda", "make", "turn", "swit"},
}


def offered_by(request: str, specs: Iterable[str]) -> str | None:
    """The first listed function whose name's words (two or more) all occur in the request, compared on
    their first four letters ("create_item" for "create a new item"), a verb also by its usual synonyms
    ("update_stock" for "increase the stock"), or None.

    A heuristic for api_not_available requests that some API plainly serves; one-word names ("search")
    are never taken, being too generic to tell.
    """
    said = {word[:4] for word in re.findall(r"[a-z]+", request.lower())}
    for name in specs:
        parts = [part.lower()[:4] for part in _NAME_PART.findall(name) if len(part) >= 3]
        if len(parts) >= 2 and all(part in said or VERB_SYNONYMS.get(part, set()) & said for part in parts):
            return name
    return None


#: a final message that narrates instead of answering: "The task is asking for a feature that cannot be
#: implemented with the available tools, and the assistant cannot provide a suitable response. The final
#: message should indicate that ..." (s16)
THIRD_PERSON = re.compile(
    r"\bthe assistant\b|\bthe final (?:message|answer|response) (?:should|must|will)\b|"
    r"\bthe (?:task|request) is asking\b",
    re.IGNORECASE,
)


def _variant_problems(variant: str, called: list[str], final_text: str) -> list[str]:
    distinct = list(dict.fromkeys(called))
    shown = ", ".join(distinct) or "none"
    asks = "?" in final_text
    declines = bool(DECLINE.search(final_text))
    problems: list[str] = []
    if THIRD_PERSON.search(final_text):
        problems.append(
            "the final message speaks of the assistant or the task in the third person: answer the user "
            "directly ('I cannot ... with these tools')"
        )
    if variant in ("single_api_all_params", "single_api_extra_params"):
        if not called:
            problems.append(f"{variant}: expected at least one tool call, got none")
        elif len(distinct) > 1:
            problems.append(f"{variant}: expected calls to exactly one function, got {shown}")
    elif variant == "single_api_missing_params":
        if len(distinct) > 1:
            problems.append(f"{variant}: expected calls to at most one function, got {shown}")
        if not asks:
            problems.append(f"{variant}: the final message must ask the user for the missing information")
    elif variant == "multi_api_all_params":
        if len(distinct) < 2:
            problems.append(f"{variant}: expected calls to at least two different functions, got {shown}")
    elif variant == "multi_api_missing_params":
        if not asks:
            problems.append(f"{variant}: the final message must ask the user for the missing information")
    elif variant == "api_not_available":
        if called:
            problems.append(f"{variant}: expected no tool calls (no listed API fits), got calls to {shown}")
        if not declines:
            problems.append(f"{variant}: the final message must say that it cannot do this with its tools")
    elif variant == "multi_api_some_missing":
        if not called:
            problems.append(f"{variant}: expected calls for the part the listed APIs can do, got none")
        if not declines:
            problems.append(f"{variant}: the final message must say which part it cannot do and why")
    return problems
