"""Results that prose about code states for calls ("`median([3, 1, 2])` returns `2`"), run and compared.

`code_discussed` (agentinstruct.quality.code_prose) checks that an explanation, a review or a complexity
analysis is about the task's code; this module checks what such prose says the code does. A claim is a
backticked call of a function the task's code defines, with literal arguments only, followed by what it
gives ("returns", "gives", "evaluates to", "is", "==", "->" and a value in backticks, a number, True, False,
None or a quoted string) or by the exception it raises. The task's code and every claimed call run once
together in the sandbox; a claim whose result differs is a problem the teacher is told about in its repair.
The local teacher explained a `calculate_rent(5, 1)` that "returns `$5.00`" where the code gives 25 (c19),
and the pair passed on naming the function.

Left alone: calls with variables or methods (nothing here knows their values), results that print as
objects, and claims about printed output. Comparison: numbers within rounding to the claim's decimals
(currency signs and thousands separators ignored), literals by value, other text by its words.
"""

from __future__ import annotations

import ast
import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.execution import sandbox_run

CLAIMS_TIMEOUT_S = 10.0
_CALL = r"`(?P<call>(?P<name>[A-Za-z_]\w*)\((?P<args>[^`]*)\))`"
_MODAL = r"(?:\s+(?:should|will|would|now|then|correctly))?"
_VALUE = r"`(?P<ticked>[^`\n]+)`|(?P<number>-?[$£€]?\d[\d,]*(?:\.\d+)?)|(?P<word>True|False|None)\b"
_RETURNS = re.compile(
    _CALL + _MODAL + r"\s*(?:returns?|gives?|evaluates\s+to|yields?|outputs?|is|equals|==|->|→)"
    r"(?:\s+(?:a\s+value\s+of|the\s+value|exactly))?\s*(?:" + _VALUE + r")"
)
_RAISES = re.compile(
    _CALL + _MODAL + r"\s*(?:raises?|throws?)\s+(?:an?\s+|the\s+)?`?(?P<error>[A-Z]\w*(?:Error|Exception))`?"
)


@dataclass(frozen=True)
class Claim:
    """A call the prose names and what it says the call gives: a value's text, or an exception's name."""

    call: str
    stated: str
    raises: bool = False


def stated_claims(answer: str, defined: set[str]) -> list[Claim]:
    """The claims about calls of `defined` functions with literal arguments, once each, in order."""
    claims: dict[str, Claim] = {}
    for match in [*_RETURNS.finditer(answer), *_RAISES.finditer(answer)]:
        call = match.group("call")
        if match.group("name") not in defined or not _literal_arguments(call) or call in claims:
            continue
        if match.re is _RAISES:
            claims[call] = Claim(call, match.group("error"), raises=True)
        else:
            stated = match.group("ticked") or match.group("number") or match.group("word")
            claims[call] = Claim(call, stated.strip().rstrip(".,;"))
    return list(claims.values())


def _literal_arguments(call: str) -> bool:
    try:
        node = ast.parse(call, mode="eval").body
        assert isinstance(node, ast.Call)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(argument)
    except (SyntaxError, ValueError, TypeError, AssertionError, MemoryError, RecursionError):
        return False
    return True


def claims_program(code: str, claims: list[Claim]) -> tuple[str, str]:
    """A program that defines the task's code and prints each call's result as a JSON line after a nonce.

    The code runs under try: a module-level example that raises (c19's code printed a call that raises
    ValueError) must not keep the functions above it from being called.
    """
    nonce = f"CLAIM-{secrets.token_hex(6)}"
    calls = json.dumps([c.call for c in claims])
    program = f"""
import json as _json
_ns = {{"__name__": "task"}}
try:
    exec(compile({code!r}, "task", "exec"), _ns)
except BaseException:
    pass
for _i, _call in enumerate(_json.loads({calls!r})):
    try:
        _v = eval(_call, _ns)
        _n = float(_v) if isinstance(_v, (int, float)) and not isinstance(_v, bool) else None
        _out = {{"repr": repr(_v), "number": _n}}
    except BaseException as _e:
        _out = {{"raises": type(_e).__name__}}
    print({nonce!r}, _i, _json.dumps(_out))
"""
    return program, nonce


async def wrong_claims(candidate: Candidate, code: str, defined: set[str]) -> tuple[list[str], int]:
    """(what each wrong claim states against what the code gives, how many claims were checked)."""
    claims = stated_claims(candidate.answer, defined)
    if not claims:
        return [], 0
    program, nonce = claims_program(code, claims)
    result = await sandbox_run(candidate, program, CLAIMS_TIMEOUT_S)
    if isinstance(result, str):  # no sandbox for this run: the claims stay unjudged
        return [], 0
    actual: dict[int, dict[str, Any]] = {}
    for line in str(result.get("stdout") or "").splitlines():
        head, _, rest = line.partition(" ")
        index, _, payload = rest.partition(" ")
        if head == nonce and index.isdigit():
            actual[int(index)] = json.loads(payload)
    wrong, checked = [], 0
    for index, claim in enumerate(claims):
        verdict = _compare(claim, actual.get(index))
        checked += verdict is not None
        if verdict:
            wrong.append(verdict)
    return wrong, checked


def _compare(claim: Claim, got: dict[str, Any] | None) -> str | None:
    """None when the claim cannot be judged, "" when it holds, else what the code really gives."""
    if got is None or got.get("raises") == "NameError":
        return None
    if "raises" in got:
        if claim.raises and claim.stated in {got["raises"], "Exception"}:
            return ""
        return f"`{claim.call}` raises {got['raises']}, not {_said(claim)}"
    if claim.raises:
        return f"`{claim.call}` returns {got['repr']}, it does not raise {claim.stated}"
    same = _same_value(claim.stated, str(got["repr"]), got.get("number"))
    if same is None or same:
        return None if same is None else ""
    return f"`{claim.call}` returns {got['repr']}, not {claim.stated}"


def _said(claim: Claim) -> str:
    return f"{claim.stated} as the answer says" if claim.raises else claim.stated


def _same_value(stated: str, shown: str, number: float | None) -> bool | None:
    """Whether a stated value is the result; None when the result prints as an object."""
    if shown.startswith("<"):
        return None
    plain = re.sub(r"(?<=\d),(?=\d{3}\b)|^[$£€]|(?<=-)[$£€]", "", stated)
    if number is not None and re.fullmatch(r"-?\d+(?:\.\d+)?", plain):
        decimals = len(plain.partition(".")[2])
        close = math.isclose(float(plain), number, rel_tol=1e-9, abs_tol=1e-9)
        return close or (decimals > 0 and round(number, decimals) == float(plain))
    try:
        return ast.literal_eval(stated) == ast.literal_eval(shown)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass
    words = [re.findall(r"\w+", text.lower()) for text in (stated, shown)]
    return words[0] == words[1]
