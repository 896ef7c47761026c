"""Execution checks: verifications that run model-written code in the sandboxed code interpreter.

Both checks send code only to `candidate.tools["python"]` (the bubblewrap `CodeInterpreterTool`, present
when the skill lists `teacher_tools: [python]`); without it they fail with a detail that says so and run
nothing. A sandbox that cannot isolate (`ToolUnavailable`) is a failure with its reason, never a fallback.

`code_runs_tests` (coding). Convention for the teacher's answer: fenced code blocks tagged ```python
(or py/python3; an untagged block counts when it parses as Python). The tests block is the LAST Python
block holding a top-level `assert`, a `def test...` function, a `class Test...` or an `if __name__ ==`
guard; the solution is the nearest Python block before it (after it, when the tests come first); one
block may hold both. Solution then tests run as one program in the sandbox, each compiled under its own
file name ("solution", "tests") so tracebacks point into the block the teacher wrote; the tests run as
`__main__` (their main guard runs, the solution's does not); a runner appended after them calls every
parameterless `test_*` function (async ones too), every `test*` method of `Test*` classes (unittest
TestCase classes through unittest) and prints a summary line carrying a nonce. Pass: exit code 0, not
timed out, and the nonce line printed (so `sys.exit(0)` in the solution cannot skip the tests). The
tests must use at least one name the solution defines and assert something. A refactor, fix_bug or
complete_code solution that is the task's code unchanged (the same syntax tree: comments and layout
aside) fails without running. For explain_code,
complexity_analysis and code_review without a Python tests block, nothing runs (None): the prose is
checked by `code_discussed` (`quality.code_prose`) instead. Not applicable (None) either for
translate_language whose last code block is not Python, unless the answer holds a Python tests block. A
failure's detail is the first failing test's traceback tail (trimmed), which the flow feeds back to the
teacher in its repair rounds.

`unique_solution` (analytical_reasoning). The instruction carries `answer_key` and `solver_program`
(instruction_fields): a self-contained program that enumerates every arrangement satisfying the
puzzle's rules and prints, as its last line, {"solutions": N, "answer": "..."}, where N counts the
answers that satisfy the question (the qualifying options of a multiple-choice question, or the valid
arrangements of an open one). Pass only when it exits 0, N == 1, its answer equals the key and the
teacher's final "Answer: ..." line equals the key (normalised: case, punctuation and filler words
ignored; a one-letter key matches an answer that starts with that option letter).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import textwrap
from typing import Any

from agentinstruct.pairs import Check
from agentinstruct.quality.agreement import stated_answer
from agentinstruct.quality.checks import Candidate, check
from agentinstruct.quality.stated_kinds import working_contradicts
from agentinstruct.tools import ToolUnavailable

#: instruction types whose answer is prose: running applies only if the teacher wrote Python tests anyway
PROSE_TYPES = frozenset({"explain_code", "complexity_analysis", "code_review"})
#: types whose answer must change the task's code: an answer that gives it back, comments and layout
#: aside, did nothing (s20's "refactored" function was the task's with two comments added)
CHANGING_TYPES = frozenset({"refactor", "fix_bug", "complete_code"})
TESTS_TIMEOUT_S = 20.0
SOLVER_TIMEOUT_S = 20.0
PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})

_TAGGED_FENCE = re.compile(r"^[ \t]*`{3,}[ \t]*[A-Za-z][\w+#.-]*[ \t]*\n?", re.M)  # "```python" alone
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
#: what makes a block the tests: a top-level assert, a test function or class, or a main guard
_ASSERTING = re.compile(r"^[ \t]*(?:assert\b|(?:async[ \t]+)?def[ \t]+test|class[ \t]+Test)", re.M)
_TESTISH = re.compile(
    r"^(?:assert\b|if[ \t]+__name__[ \t]*==|[ \t]*(?:async[ \t]+)?def[ \t]+test|[ \t]*class[ \t]+Test)", re.M
)

RUNNER = r"""
import asyncio as _aio, inspect as _insp, linecache as _lc, sys as _sys
import traceback as _tb, types as _types, unittest as _ut

def _report(title, exc):
    print("--- FAILED " + title, file=_sys.stderr)
    _tb.print_exception(type(exc), exc, exc.__traceback__.tb_next)

_module = _types.ModuleType("solution")
_sys.modules["solution"] = _module
_scope = _module.__dict__
for _name, _source in _PARTS:
    _lc.cache[_name] = (len(_source), None, _source.splitlines(True), _name)
    _before = dict(_scope)
    if _name == "tests":  # the tests run as the main program: their `if __name__ == "__main__":` runs
        _scope["__name__"], _sys.modules["__main__"] = "__main__", _module
    try:
        exec(compile(_source, _name, "exec"), _scope)
    except SystemExit as _exc:
        if _name == "tests" and _exc.code in (0, None):  # unittest.main() that passed
            continue
        _code = int(_exc.code) if isinstance(_exc.code, bool) else _exc.code
        print(f"--- FAILED the {_name} block called sys.exit({_code})", file=_sys.stderr)
        _sys.exit(1)
    except BaseException as _exc:
        _report(f"error while running the {_name} block", _exc)
        _sys.exit(1)
_new = [k for k, v in _scope.items() if _before.get(k, _report) is not v]  # defined by the tests block

_passed, _failed = 0, 0
def _call(title, function):
    global _passed, _failed
    try:
        if _insp.signature(function).parameters:
            raise TypeError(f"{title} takes parameters; pytest fixtures are not available, take none")
        result = function()
        if _insp.isawaitable(result):
            _aio.run(result)
        _passed += 1
    except BaseException as exc:
        _failed += 1
        _report(title, exc)

for _name in _new:
    _value = _scope[_name]
    if isinstance(_value, _types.FunctionType) and _name.startswith("test"):
        _call(_name, _value)
    elif isinstance(_value, type) and _name.startswith("Test"):
        if issubclass(_value, _ut.TestCase):
            _result = _ut.TextTestRunner(stream=_sys.stderr, verbosity=0).run(
                _ut.defaultTestLoader.loadTestsFromTestCase(_value))
            _bad = len(_result.failures) + len(_result.errors)
            _passed, _failed = _passed + _result.testsRun - _bad, _failed + _bad
            for _case, _text in _result.failures + _result.errors:
                print("--- FAILED " + str(_case) + "\n" + _text, file=_sys.stderr)
        else:
            try:
                _instance = _value()
            except BaseException as _exc:
                _failed += 1
                _report(f"{_name}() could not be created", _exc)
                continue
            for _method in sorted(dir(_instance)):
                if _method.startswith("test") and callable(getattr(_instance, _method)):
                    _call(f"{_name}.{_method}", getattr(_instance, _method))
print(f"{_NONCE} {_passed} test function(s) passed, {_failed} failed")
_sys.exit(1 if _failed else 0)
"""


# -- shared helpers ---------------------------------------------------------------------------------
def tail(text: str, lines: int = 12, chars: int = 900) -> str:
    """The last `lines` lines of `text`, at most `chars` characters (trimmed at the front)."""
    kept = "\n".join(text.strip().splitlines()[-lines:])
    return kept if len(kept) <= chars else "…" + kept[-chars:]


async def sandbox_run(candidate: Candidate, code: str, timeout_s: float) -> dict[str, Any] | str:
    """The sandbox result, or the reason it could not run (the code never runs outside the sandbox)."""
    tool = candidate.tools.get("python")
    if tool is None:
        return (
            "the python code interpreter is not set up for this run, so the code was not run; "
            "list it in the skill's teacher_tools"
        )
    try:
        result = await tool.call(code=code, timeout_s=timeout_s)
    except ToolUnavailable as exc:
        return f"the sandbox cannot run code on this machine: {exc}"
    return result.get("error") or result


def _failure(result: dict[str, Any], what: str, timeout_s: float) -> str:
    """Why a finished run failed, when it did because of limits rather than the code's own errors."""
    if result.get("timed_out"):
        return f"{what} did not finish within {timeout_s:g} s: an endless loop, a wait for input or too slow"
    if result.get("truncated"):
        return f"{what} printed too much output and was cut off; print less"
    if result.get("killed"):
        # no timing in the detail: it goes back to the teacher, and a resumed run must send the same request
        return (
            f"{what} was killed (exit {result.get('exit_code')}): it went over the "
            "sandbox's CPU-time or memory limit, e.g. an endless loop or a too slow or too big computation"
        )
    return ""


# -- code_runs_tests ----------------------------------------------------------------------------------
def code_blocks(answer: str) -> list[tuple[str, str]]:
    """(language tag in lower case, code) of every fenced block, in order."""
    blocks: list[tuple[str, str]] = []
    for match in _FENCE.finditer(answer):
        # a block inside a list item is indented with it (c19's "2. **Complete Solution:**\n   ```python"),
        # and its lines, indented alike, would not run
        blocks += _misclosed_parts(match.group(2).lower(), textwrap.dedent(match.group(3)))
    return blocks


def _misclosed_parts(tag: str, code: str) -> list[tuple[str, str]]:
    """A Python block closed by a tagged fence, read as the blocks its writer meant.

    s18's teacher closed its solution with "```python", wrote a sentence and opened its tests with another
    "```python": by the fence rules all of it is one block, which cannot run. Only a Python block that does
    not parse as a whole is split at its tagged fence lines; of the parts, those that parse are its blocks
    (the sentences between them are prose).
    """
    if tag not in PYTHON_TAGS or not _TAGGED_FENCE.search(code) or _parses(code):
        return [(tag, code)]
    parts = _TAGGED_FENCE.split(code)
    return [("python", part) for part in parts if part.strip() and _parses(part)] or [(tag, code)]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def is_python(tag: str, code: str) -> bool:
    """Whether a fenced block is Python: by its tag, or (untagged) by parsing as Python."""
    if tag in PYTHON_TAGS:
        return True
    return not tag and _parses(code)


def split_solution_and_tests(answer: str) -> tuple[str | None, str | None]:
    """(solution, tests) from the answer by the convention above; either may be None."""
    python = [code for tag, code in code_blocks(answer) if is_python(tag, code)]
    with_tests = [i for i, code in enumerate(python) if _TESTISH.search(code)]
    if not with_tests:
        return (python[-1] if python else None), None
    index = with_tests[-1]
    if index > 0:
        return python[index - 1], python[index]
    return (python[1] if len(python) > 1 else None), python[index]


def asserting_tests(answer: str) -> str | None:
    """The answer's tests block when it asserts something (a usage example under a main guard does not)."""
    tests = split_solution_and_tests(answer)[1]
    return tests if tests is not None and _ASSERTING.search(tests) else None


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _unchanged(solution: str | None, instruction: str) -> bool:
    """Whether the solution parses to the same program as the task's Python code (False when either
    is missing or does not parse)."""
    given = [code for tag, code in code_blocks(instruction) if is_python(tag, code)]
    if not solution or not given:
        return False
    try:
        return ast.dump(ast.parse(solution)) == ast.dump(ast.parse("\n".join(given)))
    except (SyntaxError, ValueError):
        return False


def _vacuous(solution: str | None, tests: str) -> str:
    """Why the tests cannot be testing the solution (empty when they plausibly are, or cannot be parsed)."""
    try:
        tree = ast.parse(tests)
        defined = _defined(ast.parse(solution)) if solution else set()
    except (SyntaxError, ValueError):
        return ""  # the run reports the syntax error with its line
    asserts = any(isinstance(n, ast.Assert) for n in ast.walk(tree)) or any(
        isinstance(n, ast.Attribute) and (n.attr.startswith("assert") or n.attr == "raises")
        for n in ast.walk(tree)
    )
    if not asserts:
        return "the tests block checks nothing: it has no assert statement"
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if defined and not defined & used:
        names = ", ".join(sorted(defined)[:5])
        return f"the tests never use the solution's names ({names}); call the solution in them"
    return ""


def test_program(solution: str | None, tests: str) -> tuple[str, str]:
    """(program, nonce): solution and tests compiled as their own files, then the runner."""
    parts = [("solution", solution)] if solution else []
    parts.append(("tests", tests))
    nonce = "TESTS-DONE-" + hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
    header = f"_PARTS = {parts!r}\n_NONCE = {nonce!r}\n"
    return header + RUNNER, nonce


@check("code_runs_tests")
async def code_runs_tests(candidate: Candidate) -> Check | None:
    """The teacher's solution and tests, run together in the sandbox, pass."""
    name = "code_runs_tests"
    solution, tests = split_solution_and_tests(candidate.answer)
    if tests is None:
        blocks = code_blocks(candidate.answer)
        if candidate.instruction_type in PROSE_TYPES:
            return None  # prose without tests: nothing to run (`code_discussed` checks it)
        if candidate.instruction_type == "translate_language" and blocks and not is_python(*blocks[-1]):
            return None  # translated into another language: nothing here can run it
        if candidate.instruction_type == "translate_language" and not blocks:
            # the local teacher described a "translation" and wrote its code unfenced, and the pair passed
            # with no check at all (s14)
            return Check(
                name=name,
                ok=False,
                detail="the answer has no fenced code block: give the translated code in one ```<language> "
                "block (with Python, one more ```python block of tests)",
            )
        return Check(
            name=name,
            ok=False,
            detail="the answer has no ```python block of tests: end with one ```python block holding the "
            "solution and one ```python block of assert statements or parameterless test_ functions",
        )
    if candidate.instruction_type in PROSE_TYPES and not asserting_tests(candidate.answer):
        # a usage example under a main guard, in prose about the code (c19's complexity analysis), is no test
        return None
    if candidate.instruction_type in CHANGING_TYPES and _unchanged(solution, candidate.instruction):
        detail = (
            "the solution is the task's code unchanged (comments and layout aside): a "
            f"{candidate.instruction_type} answer must make the change the task asks for"
        )
        return Check(name=name, ok=False, detail=detail)
    vacuous = _vacuous(solution, tests)
    if vacuous:
        return Check(name=name, ok=False, detail=vacuous)
    program, nonce = test_program(solution, tests)
    result = await sandbox_run(candidate, program, TESTS_TIMEOUT_S)
    if isinstance(result, str):
        return Check(name=name, ok=False, detail=result)
    seconds = float(result.get("duration_s") or 0.0)
    limit = _failure(result, "the solution with its tests", TESTS_TIMEOUT_S)
    stdout, stderr = str(result.get("stdout") or ""), str(result.get("stderr") or "")
    summary = next((ln for ln in stdout.splitlines() if ln.startswith(nonce)), "")
    if not limit and result.get("exit_code") == 0 and summary:
        counted = summary[len(nonce) :].strip()
        detail = f"solution and tests passed in the sandbox ({counted}; {seconds:.2f} s)"
        return Check(name=name, ok=True, detail=detail)
    if limit:
        return Check(name=name, ok=False, detail=limit)
    sections = stderr.split("--- FAILED ")
    if len(sections) > 1:
        title, _, trace = sections[1].partition("\n")
        trace = trace or sections[0]  # sys.exit(1) by unittest.main(): its report came before
        counted = summary[len(nonce) :].strip()
        head = f"{counted}; first failure: {title}" if summary else title
    else:
        code = result.get("exit_code")
        head, trace = f"the program exited with code {code} before the tests finished", stderr or stdout
    hint = ""
    if "NameError" in trace and solution is None:
        hint = " (put the code under test in its own ```python block before the tests)"
    return Check(name=name, ok=False, detail=f"the tests failed: {head}{hint}:\n{tail(trace)}".rstrip(":\n"))


# -- unique_solution ------------------------------------------------------------------------------------
FILLER = frozenset(
    {"and", "the", "then", "is", "are", "answer", "final", "option", "options", "choice", "order"}
)


def answer_tokens(text: str) -> list[str]:
    """Lower-case word tokens of an answer without filler words: "(B)" → [b], "Ann, Cal" → [ann, cal]."""
    return [t for t in re.findall(r"[a-z0-9]+", str(text).lower()) if t not in FILLER]


def same_answer(given: str, key: str) -> bool:
    """`given` states the key: equal tokens, or a one-letter key that `given` leads with (and no other)."""
    given_tokens, key_tokens = answer_tokens(given), answer_tokens(key)
    if not key_tokens:
        return False
    if len(key_tokens) == 1 and len(key_tokens[0]) == 1 and key_tokens[0].isalpha():
        letters = [t for t in given_tokens if len(t) == 1 and t.isalpha()]
        return bool(given_tokens) and given_tokens[0] == key_tokens[0] and letters == key_tokens
    return given_tokens == key_tokens


def strip_fence(program: str) -> str:
    """The program without a surrounding ``` fence, if the agent wrapped it in one (closed or not: the local
    model opened a solver program with "```python" and never closed it, which failed as a SyntaxError)."""
    stripped = program.strip()
    if not stripped.startswith(("```", "~~~")):
        return program
    blocks = code_blocks(program)
    if len(blocks) == 1:
        return blocks[0][1]
    return stripped.partition("\n")[2] if not blocks else program


def solver_verdict(stdout: str) -> tuple[int, str] | str:
    """(solutions, answer) from the program's last output line, or why it cannot be read."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        return 'the solver program printed nothing; its last line must be {"solutions": N, "answer": "..."}'
    try:
        data = json.loads(lines[-1])
        solutions, answer = data["solutions"], data["answer"]
        solutions = int(solutions) if not isinstance(solutions, bool) else None
    except (ValueError, TypeError, KeyError):
        solutions = None
    if solutions is None:
        shape = '{"solutions": N, "answer": "..."}'
        return f"the solver program's last line is not {shape}: {lines[-1][:200]}"
    if isinstance(answer, (list, tuple)):
        answer = ", ".join(map(str, answer))
    return solutions, str(answer)


@check("unique_solution")
async def unique_solution(candidate: Candidate) -> Check | None:
    """The puzzle's solver program finds exactly one answer, the key, and the teacher gives it too."""
    name = "unique_solution"
    program = strip_fence(str(candidate.details.get("solver_program") or "")).strip()
    key = str(candidate.details.get("answer_key") or "").strip()
    if not program or not key:
        missing = " and ".join(f for f, v in (("solver_program", program), ("answer_key", key)) if not v)
        return Check(name=name, ok=False, detail=f"the puzzle has no {missing} to verify it with")
    result = await sandbox_run(candidate, program, SOLVER_TIMEOUT_S)
    if isinstance(result, str):
        return Check(name=name, ok=False, detail=result)
    limit = _failure(result, "the solver program", SOLVER_TIMEOUT_S)
    if limit:
        return Check(name=name, ok=False, detail=limit)
    if result.get("exit_code") != 0:
        trace = tail(str(result.get("stderr") or ""), lines=6, chars=500)
        return Check(
            name=name, ok=False, detail=f"the solver program failed (exit {result['exit_code']}):\n{trace}"
        )
    verdict = solver_verdict(str(result.get("stdout") or ""))
    if isinstance(verdict, str):
        return Check(name=name, ok=False, detail=verdict)
    solutions, answer = verdict
    if solutions == 0:
        detail = "the program found no solution: the rules contradict each other or no option qualifies"
        return Check(name=name, ok=False, detail=detail)
    if solutions != 1:
        return Check(name=name, ok=False, detail=f"the program found {solutions} solutions, not exactly one")
    if not same_answer(answer, key):
        return Check(name=name, ok=False, detail=f"the program's answer {answer} differs from the key {key}")
    given = stated_answer(candidate.answer)
    if given is None:
        return Check(name=name, ok=False, detail="the teacher's answer has no final line 'Answer: ...'")
    if not same_answer(given, key):
        return Check(name=name, ok=False, detail=f"the teacher answered {given}, the key is {key}")
    contradiction = working_contradicts(candidate.instruction, key, candidate.answer)
    if contradiction:
        return Check(name=name, ok=False, detail=contradiction)
    seconds = float(result.get("duration_s") or 0.0)
    detail = f"the program found exactly 1 solution ({answer}), the key; the teacher agrees ({seconds:.2f} s)"
    return Check(name=name, ok=True, detail=detail)
