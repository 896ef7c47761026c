"""`code_discussed`: the check of prose coding answers (explain_code, complexity_analysis, code_review).

Nothing runs for these types (unless the teacher added Python tests, which `code_runs_tests` then runs and
this check leaves alone), so without it such a pair would be kept unverified, even when its task holds no
code at all. It passes when:
- the task holds code: a fenced block, or at least two lines that read as code (`def`, `class`, `return`,
  `for ... :`, `function`, braces and semicolons...);
- the answer names the code: at least one function, class or variable that the code defines appears in
  the answer (checked only when the code defines a name);
- for complexity_analysis, the answer states a bound in big-O, Theta or Omega notation ("O(n log n)").
A translate_language answer in another language than Python (which nothing here can run) is checked the
same way: its last code block must define every function and class the task's code defines (named in
the target language's style: `calculate_total` may become `calculateTotal`), must not be the task's code
again, and its fence must name the language the task asks for when the task names one.
- the results the answer states for calls of the code ("`median([3, 1, 2])` returns `2`") are what the
  code gives when run in the sandbox (agentinstruct.quality.code_claims).
Knowingly missed: whether the rest of the explanation, the bound, the review or the translation is right.
"""

from __future__ import annotations

import re

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check, listed
from agentinstruct.quality.code_claims import wrong_claims
from agentinstruct.quality.execution import PROSE_TYPES, asserting_tests, code_blocks, is_python

_CODE_LINE = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+|return\b|import\s+\w|from\s+\w+\s+import\b"
    r"|(?:for|while|if|elif)\b.*:\s*$|function\s+\w+\s*\(|(?:const|let|var|int|public|private)\s+\w+"
    r"|.*[;{}]\s*$)"
)
_DEFINED = re.compile(
    r"\b(?:def|class|function)\s+([A-Za-z_]\w*)|^\s*(?:(?:const|let|var)\s+)?([A-Za-z_]\w*)\s*=[^=]", re.M
)
#: functions and classes a piece of code defines (not its variables, which a translation may rename)
_DEFINITION = re.compile(
    r"\b(?:def|class|function)\s+([A-Za-z_]\w*)|\b([A-Za-z_]\w*)\s*=\s*(?:function\b|\([^()]*\)\s*=>)"
)
_BOUND = re.compile(r"(?:\bO|Θ|Ω|\b[Tt]heta|\b[Oo]mega|\bbig-O)\s*\(\s*[^()\s][^()]*(?:\([^()]*\)[^()]*)*\)")
_VERBS = {"explain_code": "explain", "complexity_analysis": "analyse", "code_review": "review"}
#: names too generic to show that the answer is about this code
_GENERIC = frozenset({"i", "j", "k", "n", "x", "y", "self", "cls", "result", "data", "value", "item"})


def task_code(instruction: str) -> str:
    """The code a task carries: its fenced blocks, else its lines that read as code ("" when none)."""
    blocks = [code for _, code in code_blocks(instruction)]
    if blocks:
        return "\n".join(blocks)
    lines = [line for line in instruction.splitlines() if _CODE_LINE.match(line)]
    return "\n".join(lines) if len(lines) >= 2 else ""


def defined_names(code: str) -> list[str]:
    """Functions, classes and variables the code defines, in order, without generic ones."""
    names = (a or b for a, b in _DEFINED.findall(code))
    return list(dict.fromkeys(n for n in names if n.lower() not in _GENERIC and len(n) > 1))


#: languages a translation task may name: how a task writes the name (case kept: "go" and "rust" are words
#: too), and the fence tags that write the language
LANGUAGES = {
    "JavaScript": ({"JavaScript", "Javascript", "JS"}, {"javascript", "js", "node"}),
    "TypeScript": ({"TypeScript", "Typescript", "TS"}, {"typescript", "ts"}),
    "Java": ({"Java"}, {"java"}), "Go": ({"Go", "Golang"}, {"go", "golang"}),
    "Rust": ({"Rust"}, {"rust", "rs"}), "C#": ({"C#", "CSharp"}, {"csharp", "cs", "c#"}),
    "C++": ({"C++", "CPP"}, {"cpp", "c++"}), "Ruby": ({"Ruby"}, {"ruby", "rb"}),
    "Kotlin": ({"Kotlin"}, {"kotlin", "kt"}), "Swift": ({"Swift"}, {"swift"}), "PHP": ({"PHP"}, {"php"}),
}  # fmt: skip


def _folded(name: str) -> str:
    return name.replace("_", "").casefold()


def translation_problem(instruction: str, tag: str, translated: str) -> str:
    """Why a translation into another language than Python does not translate the task's code ("" if
    it does, as far as names and the language show)."""
    code = task_code(instruction)
    if " ".join(translated.split()) == " ".join(code.split()):
        return "the answer's code is the task's code unchanged; translate it into the language asked for"
    asked = [
        lang
        for lang, (spellings, _) in LANGUAGES.items()
        if any(re.search(rf"(?<![\w#+]){re.escape(w)}(?![\w#+])", instruction) for w in spellings)
    ]
    named = next((lang for lang, (_, tags) in LANGUAGES.items() if tag in tags), None)
    if tag and named and asked and named not in asked:
        return f"the task asks for {' or '.join(asked)}, and the answer's code block is {named}"
    wanted = [a or b for a, b in _DEFINITION.findall(code)]
    wanted = list(dict.fromkeys(n for n in wanted if n.lower() not in _GENERIC))
    written = {_folded(w) for w in re.findall(r"\w+", translated)}
    missing = [n for n in wanted if _folded(n) not in written]
    if missing:
        return (
            f"the translation does not define {listed(missing)} of the task's code; keep every function "
            "and class"
        )
    return ""


@check("code_discussed")
async def code_discussed(candidate: Candidate) -> Check | None:
    """The task holds code, the answer names it, a complexity answer states a bound, and the results it
    states for calls are what the code gives (a translation into another language than Python: it
    translates the task's code, `translation_problem`)."""
    blocks = code_blocks(candidate.answer)
    if candidate.instruction_type == "translate_language" and blocks and not is_python(*blocks[-1]):
        tag, translated = blocks[-1]
        problem = translation_problem(candidate.instruction, tag, translated)
        if problem:
            return Check(name="code_discussed", ok=False, detail=problem)
        return Check(
            name="code_discussed", ok=True, detail="the translation keeps the task's functions and classes"
        )
    if candidate.instruction_type not in PROSE_TYPES or asserting_tests(candidate.answer):
        return None  # code to run: `code_runs_tests` verifies it
    name = "code_discussed"
    verb = _VERBS.get(candidate.instruction_type, "discuss")
    code = task_code(candidate.instruction)
    if not code:
        detail = f"the task holds no code to {verb}; a task of this type must include the code itself"
        return Check(name=name, ok=False, detail=detail)
    problems = []
    names = defined_names(code)
    if names and not any(re.search(rf"\b{re.escape(n)}\b", candidate.answer) for n in names):
        problems.append(f"the answer never names the code it is about ({listed(names)}); refer to it by name")
    bound = _BOUND.search(candidate.answer)
    if candidate.instruction_type == "complexity_analysis" and not bound:
        problems.append("the answer states no bound: give the time and space complexity as O(...)")
    wrong, checked = await wrong_claims(candidate, code, set(names))
    if wrong:
        problems.append(f"running the task's code, {'; '.join(wrong)}: state what the code really gives")
    if problems:
        return Check(name=name, ok=False, detail="; ".join(problems))
    found = (
        f"; bound {bound.group(0)}" if bound and candidate.instruction_type == "complexity_analysis" else ""
    )
    shown = f"names {listed(names, 3)}" if names else "the task's code"
    calls = f"; {checked} stated call result(s) match the code's" if checked else ""
    return Check(name=name, ok=True, detail=f"the answer discusses {shown}{found}{calls}")
