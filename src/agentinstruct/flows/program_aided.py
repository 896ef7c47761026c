"""Program-aided answers: a task the teacher's own answer got wrong, answered through a program the
teacher writes, which code runs and from whose results it writes the working.

A task whose key is a number (a math puzzle, a sequence) is answered by a Python program that prints the
answer; a second program, written apart, gives the second independent answer. Two task shapes have their
own way. An arrangement puzzle's rules are read as checks (`flows.rule_checks`); checks that each mean what
the author's check means give the key by construction, so no check asks the teacher for a second answer. A
few-shot task's rule is written as a Python function, run in the sandbox on every example and on both
held-out queries. The local 1.5B teacher stated "reverse the order of the words" and answered "Five years"
for "Five years"; as a function, the same rule gives "years Five". A program is accepted only when it
reproduces what the task shows: each check means what its author's check means, and the function gives
every example's output (a function that misses examples is shown them and asked for a fix, in turn with
fresh functions: the examples stand in the task already). The teacher never sees the key, the second
query's answer or the author's checks, so a wrong program gives a wrong answer, which the checks reject.
A sequence's program must also print the terms the task shows, computed by its rule, before its answer.
A Fermi estimate, checked step by step by `arithmetic_verified` rather than against a key, is written as
named assumptions and expressions whose arithmetic code does (`flows.estimates`). `flows.teaching` decides
when to ask and verifies the result like any other answer.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentinstruct.agents import PROMPTS_DIR, Agent, render
from agentinstruct.flows.estimates import EstimateProgram, by_estimate
from agentinstruct.flows.held_out import mapping_lines
from agentinstruct.flows.rule_checks import CheckedAnswer, author_checks, checked_answer, read_puzzle
from agentinstruct.flows.sequences import shown_terms, terms_problem
from agentinstruct.flows.state import Chain, derive_seed
from agentinstruct.quality.agreement import (
    CASE_SENSITIVE_TYPES,
    final_answer,
    normalise,
    numbers,
    value_matches,
)
from agentinstruct.quality.execution import strip_fence
from agentinstruct.tools import ToolUnavailable

if TYPE_CHECKING:
    from agentinstruct.models.base import Model
    from agentinstruct.skills import Skill
    from agentinstruct.tools import Tool

#: readings of a puzzle's rules as checks asked of the teacher per puzzle (each at its own sampling seed)
READING_ATTEMPTS = 2
#: functions asked per few-shot task, fresh ones and fixes in turn: a fix shown the examples it missed, and
#: a fresh one (another seed), since the local teacher's fixes often repeated the function it was shown
#: wrong, while about half its fresh functions for "the last word" or "the words reversed" were right
FUNCTION_ATTEMPTS = 5
#: programs asked per task with a numeric answer, until two of them run
PROGRAM_ATTEMPTS = 3
#: how the program marks an input on which the function raised (an output no example has)
RUN_ERROR = "error running the rule: "
_FUNCTION_NAME = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
#: a definition after a label on its line ("The number of letters: def rule(text): ..."), as a teacher
#: that copies one of the prompt's example rules writes it
_LABELLED_DEF = re.compile(r"^[^\n]*?[:\-]\s*(?=def\s+[A-Za-z_]\w*\s*\()", re.MULTILINE)


@dataclass
class AidRequest:
    """What a program-aided answer needs: the teacher agent for the shape, the task and the sandbox."""

    agent: Agent
    model: Model
    skill: Skill
    chain: Chain
    prompt: str  # the user turn the teacher answered
    seed: int
    tools: dict[str, Tool]


@dataclass
class AidedAnswer:
    """The worked answer code wrote from the teacher's program, and what it took."""

    text: str
    call_ids: list[str]
    #: what the teacher wrote and code did, for the pair's `program_aided` check
    how: str
    #: the program's output for the second query (few-shot tasks), which `second_query_agrees` compares
    second_answer: str | None = None
    #: whether a check may ask the teacher for a second independent answer: not after rule checks that code
    #: found to mean what the author's checks mean, whose answer is the key by construction (a brain teaser's
    #: `answers_agree` would otherwise ask the teacher's words again, right on 1 of 9 puzzles locally)
    second_needed: bool = True


async def aid(request: AidRequest) -> AidedAnswer | list[str] | None:
    """The program-aided answer, the reasons each program failed, or None when the task has no such way."""
    if request.agent.output is EstimateProgram:
        # a skill whose answers are checked step by step (fermi) has no key to compute: its estimate is
        # written as named steps whose arithmetic code does (`flows.estimates`)
        return await by_estimate(request)
    shape = request.chain.instruction_type.task_shape
    if shape == "arrangement":
        return await _by_rule_checks(request)
    if shape == "held_out":
        return await _by_rule_function(request)
    return await _by_program(request)


async def _by_program(request: AidRequest) -> AidedAnswer | list[str] | None:
    """A text task whose key is a number, answered by a program the teacher writes, run in the sandbox.

    Two programs are written at different seeds, neither shown the other: the second one's output is the
    second independent answer `answers_agree` compares, so one lucky program is not enough.
    """
    key = str(request.chain.details.get("answer_key", ""))
    python = request.tools.get("python")
    if python is None or not numbers(normalise(final_answer(key))):
        return None
    problems: list[str] = []
    ran: list[tuple[Any, str]] = []
    call_ids: list[str] = []
    terms = shown_terms(request.prompt)
    for attempt in range(PROGRAM_ATTEMPTS):
        written = await _ask(request, {"task": request.prompt, "terms": terms}, "computed_answer", attempt)
        call_ids += written.call_ids
        if not written.ok:
            problems.append(written.reason)
            continue
        program = strip_fence(written.output.program).strip()
        if not computes(program):
            problems.append(
                "the program computes nothing: it prints a value it was given, so it is no answer"
            )
            continue
        lines = await _execute(python, program)
        if isinstance(lines, str):
            problems.append(f"the program could not be run: {lines}")
            continue
        if terms and (problem := terms_problem(terms, program, lines[-2] if len(lines) > 1 else "")):
            problems.append(problem)  # a sequence's program must give the terms shown before its answer
            continue
        ran.append((written, lines[-1]))
        if len(ran) == 2:
            return _computed_answer(ran[0], ran[1][1], call_ids)
    return problems + (["only one program ran, so there is no second answer to compare"] if ran else [])


#: the nodes of a program that work something out: operators, comparisons, loops and calls
_COMPUTING = (ast.BinOp, ast.AugAssign, ast.Compare, ast.BoolOp, ast.For, ast.While, ast.comprehension)


def computes(program: str) -> bool:
    """Whether a program works anything out, rather than printing a value as it was given: the local
    teacher's program for "If the soil has a weight of 400,000 pounds, what is the weight of the lot?" was
    `print(400000)` (run s18), and the puzzle passed with the key and both programs agreeing. A program that
    does not parse computes nothing here either; the sandbox would report it."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return True  # the sandbox's error is the better report
    for node in ast.walk(tree):
        if isinstance(node, _COMPUTING):
            return True
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "print"):
            return True
    return False


def _computed_answer(first: tuple[Any, str], second_answer: str, call_ids: list[str]) -> AidedAnswer:
    written, answer = first
    output = written.output
    text = render(
        PROMPTS_DIR,
        "computed_answer_answer.j2",
        reasoning=output.reasoning.strip(),
        program=strip_fence(output.program).strip(),
        unit=output.unit,
        answer=answer,
    )
    how = (
        "it wrote two programs apart, which code ran: the first one's working is the answer, the second's "
        "output the second independent answer"
    )
    return AidedAnswer(text, call_ids, how, second_answer)


async def _by_rule_checks(request: AidRequest) -> AidedAnswer | list[str] | None:
    view = read_puzzle(request.prompt)
    authors = author_checks(str(request.chain.details.get("solver_program", "")))
    if view is None or not authors:
        return None
    problems, call_ids = [], []
    for attempt in range(READING_ATTEMPTS):
        reading = await _ask(request, {"puzzle": request.prompt, **vars(view)}, "rule_checks", attempt)
        call_ids += reading.call_ids
        checks = [c.check for c in reading.output.checks] if reading.ok else []
        answer = checked_answer(view, checks, authors) if reading.ok else reading.reason
        if isinstance(answer, CheckedAnswer):
            text = _render(request.skill, "rule_checks_answer", vars(answer))
            how = "it wrote each rule as a check meaning what the rule means, and code tested every option"
            return AidedAnswer(text, call_ids, how, second_needed=False)
        problems.append(answer)
    return problems


@dataclass(frozen=True)
class _HeldOutTask:
    """A few-shot task as code wrote it: the examples shown, the query, and the hidden second query."""

    examples: list[tuple[str, str]]
    query: str
    second: str
    case_matters: bool

    @property
    def inputs(self) -> list[str]:
        return [*(i for i, _ in self.examples), self.query, *([self.second] if self.second else [])]


async def _by_rule_function(request: AidRequest) -> AidedAnswer | list[str] | None:
    lines = mapping_lines(request.prompt)
    examples = [(i, o) for i, o in lines if o != "?"]
    query = next((i for i, o in lines if o == "?"), None)
    python = request.tools.get("python")
    if not examples or query is None or python is None:
        return None
    second = str(request.chain.details.get("second_query", "")).removeprefix("Input:").strip()
    task = _HeldOutTask(examples, query, second, request.chain.instruction_type.name in CASE_SENSITIVE_TYPES)
    problems: list[str] = []
    written, wrong = None, []
    for attempt in range(FUNCTION_ATTEMPTS):
        written = await _write_function(request, written, wrong, attempt)
        if not written.ok:
            problems.append(written.reason)
            continue
        outputs = await _run_function(python, function_code(written.output.function), task.inputs)
        if isinstance(outputs, str):
            problems.append(outputs)
            continue
        wrong = [
            (i, o, got)
            for (i, o), got in zip(examples, outputs, strict=False)
            if not value_matches(got, o, task.case_matters)
        ]
        failed = [o for o in outputs[len(examples) :] if o.startswith(RUN_ERROR)]
        if wrong:
            problems.append(
                "the function gives {2!r} for the example {0!r}, whose output is {1!r}".format(*wrong[0])
            )
        elif failed:
            problems.append(f"the function fails on a query: {failed[0]}")
        else:
            return _function_answer(request, written, task, outputs)
    return problems


async def _write_function(
    request: AidRequest, written: Any, wrong: list[tuple[str, str, str]], attempt: int
) -> Any:
    """The teacher's function: a fresh one, or on odd attempts a fix of the last one shown the examples it
    missed."""
    if attempt % 2 == 0 or written is None or not written.ok or not wrong:
        return await _ask(request, {"task": request.prompt}, "rule_function", attempt)
    # the examples it misses stand in the task already: showing them gives nothing of the key away
    feedback = render(PROMPTS_DIR, "rule_function_feedback.j2", wrong=wrong[:3])
    tag = f"{request.skill.name}/teacher/{request.chain.instruction_type.name}/rule_function/fix"
    seed = derive_seed(request.seed, f"rule_function{attempt}")
    return await request.agent.revise(request.model, written, feedback, {}, tag=tag, seed=seed)


def _function_answer(
    request: AidRequest, written: Any, task: _HeldOutTask, outputs: list[str]
) -> AidedAnswer:
    """The worked answer from a function that gives every example's output."""
    function = function_code(written.output.function)
    answer = outputs[len(task.examples)]
    variables = {"rule": written.output.rule.strip(), "function": function, "examples": task.examples}
    text = _render(
        request.skill, "rule_function_answer", {**variables, "query": task.query, "answer": answer}
    )
    how = "it wrote the rule as a function giving every example's output, and code ran it on the queries"
    return AidedAnswer(text, written.call_ids, how, outputs[-1] if task.second else None)


def function_code(text: str) -> str:
    """A rule function's code from the teacher's field: without a fence, or a label before its `def`."""
    code = strip_fence(text).strip()
    if _FUNCTION_NAME.search(code) is None:
        code = _LABELLED_DEF.sub("", code, count=1)
    return code


async def _run_function(python: Tool, function: str, inputs: list[str]) -> list[str] | str:
    """The function's output for each input, run in the sandbox, or why it could not be run."""
    name = _FUNCTION_NAME.search(function)
    if name is None:
        return "the function is not a Python function definition (def rule(text): ...)"
    program = "\n".join(
        [
            "import json",
            function,
            "",
            f"inputs = json.loads({json.dumps(json.dumps(inputs))})",
            "outputs = []",
            "for item in inputs:",
            "    try:",
            f"        outputs.append(str({name[1]}(item)))",
            "    except Exception as exc:",
            f"        outputs.append(f'{RUN_ERROR}{{type(exc).__name__}}: {{exc}}')",
            "print(json.dumps(outputs))",
        ]
    )
    ran = await _execute(python, program)
    if isinstance(ran, str):
        return f"the function could not be run: {ran}"
    try:
        outputs = json.loads(ran[-1])
    except ValueError:
        return "the function could not be run: its outputs are not JSON"
    return (
        [str(o) for o in outputs]
        if isinstance(outputs, list) and len(outputs) == len(inputs)
        else "no outputs"
    )


async def _execute(python: Tool, program: str) -> list[str] | str:
    """The program's non-empty output lines, run in the sandbox, or why it gave none."""
    try:
        result = await python.call(code=program, timeout_s=10)
    except ToolUnavailable as exc:
        return f"the sandbox cannot run code on this machine: {exc}"
    lines = [line.strip() for line in str(result.get("stdout", "")).splitlines() if line.strip()]
    if result.get("timed_out"):
        return "it ran for more than 10 s"
    if lines and result.get("exit_code") == 0:
        return lines
    error = str(result.get("error") or result.get("stderr") or "").strip().splitlines()
    return error[-1] if error else "it printed nothing"


async def _ask(request: AidRequest, variables: dict[str, Any], name: str, attempt: int) -> Any:
    tag = f"{request.skill.name}/teacher/{request.chain.instruction_type.name}/{name}"
    seed = derive_seed(request.seed, f"{name}{attempt}")
    return await request.agent.run(request.model, variables, tag=tag, seed=seed)


def _render(skill: Skill, name: str, variables: dict[str, Any]) -> str:
    return render(Path(skill.directory), skill.prompts.extra[name], **variables)
