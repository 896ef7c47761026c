"""The calculator tool: exact arithmetic and algebra with sympy, never evaluating arbitrary code.

How an expression is handled: (1) Python's tokenizer splits it and every token is checked against a
whitelist (numbers, known function names, plain symbol names, arithmetic operators; no strings,
attributes, dunders, keywords or subscripts); `^` becomes `**`, `%` after an operand is a percentage,
`a = b` becomes an equation. (2) `parse_expr` builds an *unevaluated* tree in a namespace holding
only inert placeholder functions and sympy's constructors, so parsing computes nothing. (3) The tree
is evaluated bottom-up, and powers, factorials and digit counts are checked before each step, so
`10**10**10` is refused instead of hanging. A wall-clock limit is the last line of defence.
"""

from __future__ import annotations

import asyncio
import io
import keyword
import re
import threading
import tokenize
from typing import Any, ClassVar

import sympy
from sympy.core.function import UndefinedFunction
from sympy.parsing.sympy_parser import auto_number, auto_symbol, factorial_notation, parse_expr, rationalize

from agentinstruct.tools import Tool

MAX_EXPRESSION_CHARS = 1000
MAX_RESULT_BITS = 13_000  # about 3900 digits, under Python's 4300-digit int/str conversion limit
MAX_SYMBOLIC_EXPONENT = 1000
MAX_FACTORIAL = 1000
MAX_DIGITS = 1000
MAX_LITERAL_EXPONENT = 400

# name -> what it computes (also the inert placeholder's name during parsing)
FUNCTIONS: dict[str, Any] = {
    **{name: getattr(sympy, name) for name in ("sqrt", "cbrt", "root", "exp", "log", "sin", "cos", "tan")},
    **{name: getattr(sympy, name) for name in ("cot", "sec", "csc", "asin", "acos", "atan", "atan2")},
    **{name: getattr(sympy, name) for name in ("sinh", "cosh", "tanh", "asinh", "acosh", "atanh")},
    **{name: getattr(sympy, name) for name in ("floor", "ceiling", "factorial", "binomial", "gcd", "lcm")},
    **{name: getattr(sympy, name) for name in ("re", "im", "conjugate", "sign", "isprime", "Abs", "Mod")},
    "ln": sympy.log,
    "abs": sympy.Abs,
    "mod": sympy.Mod,
    "min": sympy.Min,
    "max": sympy.Max,
    "Eq": sympy.Eq,
}
# Operations on whole expressions; their arguments are checked for blow-ups first.
OPERATIONS: dict[str, Any] = {
    "simplify": sympy.simplify,
    "expand": sympy.expand,
    "factor": sympy.factor,
    "solve": sympy.solve,
    "diff": sympy.diff,
    "integrate": sympy.integrate,
    "limit": sympy.limit,
    "N": sympy.N,
}
CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E, "I": sympy.I, "oo": sympy.oo}
# What the transformed source may reference besides the names above (used by parse_expr itself).
CONSTRUCTORS: dict[str, Any] = {
    name: getattr(sympy, name)
    for name in (
        "Add",
        "Mul",
        "Pow",
        "Integer",
        "Float",
        "Rational",
        "Symbol",
        "Tuple",
        "Lt",
        "Le",
        "Gt",
        "Ge",
    )
}
ALLOWED_OPS = {
    "+",
    "-",
    "*",
    "/",
    "**",
    "^",
    "%",
    "(",
    ")",
    ",",
    "=",
    "==",
    "[",
    "]",
    "!",
    "<",
    ">",
    "<=",
    ">=",
}
SYMBOL_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_)){0,19}$")
TRANSFORMATIONS = (auto_symbol, auto_number, factorial_notation, rationalize)


class CalculatorError(ValueError):
    """The expression is not something the calculator accepts; the message says what to change."""


def to_source(expression: str) -> str:
    """Validate `expression` token by token and rewrite it into the source `parse_expr` receives."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters; split it up")
    if any(char in expression for char in "\n\r;#"):
        raise CalculatorError("give one expression on one line (no newlines, ';' or comments)")
    expression = _without_thousands_separators(expression)
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(expression).readline) if t.string.strip()]
    except (tokenize.TokenError, SyntaxError) as exc:
        raise CalculatorError(f"cannot read the expression: {exc}") from None
    out: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        piece = _translate(token, following, out)
        if piece == "!" and out:  # postfix factorial must touch its operand for factorial_notation
            out[-1] += piece
        else:
            out.append(piece)
    return " ".join(_equations_to_eq(out))


THOUSANDS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])")


def _without_thousands_separators(expression: str) -> str:
    """Read "1,000,000 / 4" as 1000000 / 4, and refuse other commas outside function calls.

    Outside every call's argument list a comma cannot separate arguments, so "1,000" there is a number
    written with separators, and any other comma there is an error (sympy would read a tuple and compute
    nonsense). Inside a call, `gcd(12,180)` or `integrate(x, (x, 0, 3))`, commas are left alone.
    """
    runs, stack, last = [], [], 0
    for index, char in enumerate(expression):
        if char not in "()[]{}":
            continue
        runs.append((expression[last:index], any(stack)))
        runs.append((char, True))
        if char in "([{":
            stack.append(bool(re.search(r"\w\s*$", expression[:index])))  # a call: name( ... )
        elif stack:
            stack.pop()
        last = index + 1
    runs.append((expression[last:], any(stack)))
    pieces = []
    for text, in_call in runs:
        if not in_call:
            text = THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
            if "," in text:
                raise CalculatorError(
                    "give one expression; a comma may only group thousands (1,000,000) or separate arguments"
                )
        pieces.append(text)
    return "".join(pieces)


def _translate(token: tokenize.TokenInfo, following: tokenize.TokenInfo | None, done: list[str]) -> str:
    kind, text = token.type, token.string
    previous = done[-1] if done else ""
    if kind == tokenize.NUMBER:
        exponent = re.search(r"[eE]([+-]?\d+)$", text)
        if (
            exponent
            and not text.lower().startswith("0x")
            and abs(int(exponent.group(1))) > MAX_LITERAL_EXPONENT
        ):
            raise CalculatorError(f"number {text} is too large or too small; use powers of ten explicitly")
        return text
    if kind == tokenize.NAME:
        return _check_name(text, following)
    if kind in (tokenize.OP, tokenize.ERRORTOKEN) and text in ALLOWED_OPS:
        if text == "^":
            return "**"
        if text == "%":
            operand_follows = following is not None and (
                following.type in (tokenize.NAME, tokenize.NUMBER) or following.string == "("
            )
            if operand_follows and following.string != "of":
                raise CalculatorError("'%' means percent here; write mod(a, b) for the remainder")
            return "/ 100"
        if text == "[":
            if previous and (previous[-1].isalnum() or previous in (")", "]")):
                raise CalculatorError("indexing with [...] is not supported; lists are written [a, b]")
            return "Tuple ("
        return ")" if text == "]" else text
    raise CalculatorError(f"'{text}' is not allowed in a math expression")


def _check_name(name: str, following: tokenize.TokenInfo | None) -> str:
    calls = following is not None and following.string == "("
    if name in FUNCTIONS or name in OPERATIONS:
        if not calls:
            raise CalculatorError(f"'{name}' is a function; call it like {name}(...)")
        return name
    if name == "of":
        return "*"
    if calls:
        raise CalculatorError(
            f"unknown function '{name}'; available: {', '.join(sorted({*FUNCTIONS, *OPERATIONS}))}"
        )
    if name in CONSTANTS:
        return name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or not SYMBOL_NAME.match(name):
        raise CalculatorError(f"'{name}' is not a valid variable name (letters, digits, single underscores)")
    return name


def _equations_to_eq(tokens: list[str]) -> list[str]:
    """Rewrite `lhs = rhs` (or `==`) inside each comma-separated group as `Eq(lhs, rhs)`."""
    result = list(tokens)
    while any(t in ("=", "==") for t in result):
        at = next(i for i, t in enumerate(result) if t in ("=", "=="))
        start, end = _group_bounds(result, at)
        if any(t in ("=", "==") for t in result[at + 1 : end]):
            raise CalculatorError("chained equations (a = b = c) are not supported; give them separately")
        result = [
            *result[:start],
            "Eq",
            "(",
            *result[start:at],
            ",",
            *result[at + 1 : end],
            ")",
            *result[end:],
        ]
    return result


def _group_bounds(tokens: list[str], at: int) -> tuple[int, int]:
    """The token range [start, end) of the comma-separated group around position `at`."""
    depth, start = 0, 0
    for i in range(at - 1, -1, -1):
        token = tokens[i]
        if token == ")":
            depth += 1
        elif token.endswith("(") and depth > 0:
            depth -= 1
        elif depth == 0 and (token == "," or token.endswith("(")):
            start = i + 1
            break
    depth, end = 0, len(tokens)
    for i in range(at + 1, len(tokens)):
        token = tokens[i]
        if token.endswith("("):
            depth += 1
        elif token == ")" and depth > 0:
            depth -= 1
        elif depth == 0 and token in (",", ")"):
            end = i
            break
    return start, end


def parse(expression: str) -> sympy.Basic:
    """The unevaluated expression tree (placeholders for every function); computes nothing."""
    namespace = {name: sympy.Function(name) for name in (*FUNCTIONS, *OPERATIONS)} | CONSTANTS
    source = to_source(expression)
    if not source:
        raise CalculatorError("empty expression")
    try:
        return parse_expr(
            source,
            local_dict=namespace,
            global_dict={"__builtins__": {}, **CONSTRUCTORS},
            transformations=TRANSFORMATIONS,
            evaluate=False,
        )
    except Exception as exc:  # sympy raises many types for malformed input
        raise CalculatorError(f"not a valid math expression: {exc}") from None


def evaluate(tree: Any) -> Any:
    """Evaluate an unevaluated tree bottom-up, refusing steps that would blow up."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(evaluate(item) for item in tree)
    if not isinstance(tree, sympy.Basic) or not tree.args:
        return tree
    args = [evaluate(arg) for arg in tree.args]
    func = tree.func
    if isinstance(func, UndefinedFunction):
        name = func.__name__
        if name in OPERATIONS:
            _check_operation(name, args)
            return OPERATIONS[name](*args)
        _check_function(name, args)
        return FUNCTIONS[name](*args)
    if func is sympy.Pow:
        _check_power(*args)
    return func(*args)


def _check_power(base: Any, exponent: Any) -> None:
    """Refuse numeric powers whose exact value would exceed MAX_RESULT_BITS."""
    if not (getattr(base, "is_number", False) and getattr(exponent, "is_number", False)):
        return  # symbolic powers stay unevaluated; operations that expand them are checked separately
    if base.is_Rational:
        if abs(base) in (0, 1):
            return
        log2_base = float(max(abs(base.p).bit_length(), abs(base.q).bit_length()))
    else:
        magnitude = sympy.N(sympy.Abs(base), 15)
        if magnitude.is_zero or magnitude == 1:
            return
        log2_base = abs(float(sympy.log(magnitude, 2)))
    bits = abs(complex(sympy.N(exponent, 15))) * log2_base
    if not bits <= MAX_RESULT_BITS:
        raise CalculatorError(
            f"the exact result would have about {bits * 0.30103:.3g} digits; that is too large to compute"
        )


def _check_function(name: str, args: list[Any]) -> None:
    big_argument = args and getattr(args[0], "is_number", False) and abs(complex(sympy.N(args[0], 15)))
    if name in ("factorial", "binomial") and big_argument and big_argument > MAX_FACTORIAL:
        raise CalculatorError(f"{name} of a number above {MAX_FACTORIAL} is too large to compute exactly")


def _check_operation(name: str, args: list[Any]) -> None:
    for arg in args:
        for power in sympy.sympify(arg).atoms(sympy.Pow):
            if power.exp.is_Integer and abs(int(power.exp)) > MAX_SYMBOLIC_EXPONENT:
                raise CalculatorError(f"{name} of a power with exponent {power.exp} is too large to compute")
    if name == "N" and len(args) > 1 and not (args[1].is_Integer and 1 <= int(args[1]) <= MAX_DIGITS):
        raise CalculatorError(f"N(expr, digits) needs 1 <= digits <= {MAX_DIGITS}")
    if name == "diff" and any(getattr(a, "is_Integer", False) and int(a) > 100 for a in args[1:]):
        raise CalculatorError("derivatives above order 100 are not supported")


def numeric(value: Any, digits: int) -> Any:
    """A decimal approximation of `value` (numbers, and lists/dicts of them), or None."""
    if isinstance(value, (list, tuple, sympy.Tuple)):
        items = [numeric(item, digits) for item in value]
        return None if any(item is None for item in items) else items
    if isinstance(value, dict):
        items = {str(k): numeric(v, digits) for k, v in value.items()}
        return None if any(item is None for item in items.values()) else items
    if isinstance(value, sympy.Basic) and value.is_number:
        return str(sympy.N(value, digits))
    return None


class Calculator:
    """Evaluates math expressions exactly; `evaluate()` never raises, it returns {"error": ...}."""

    def __init__(self, *, timeout_s: float = 5.0):
        self.timeout_s = timeout_s

    def evaluate(self, expression: str, *, digits: int = 15) -> dict[str, Any]:
        """{"expression", "result", "numeric"} for `expression`, or {"error"} saying what to change."""
        if not isinstance(expression, str):
            return {"error": "the expression must be a string such as '2**10 + sqrt(2)'"}
        digits = min(max(int(digits), 1), MAX_DIGITS)
        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=self._compute, args=(expression, digits, outcome), daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            return {"error": f"the computation took longer than {self.timeout_s:g} s; simplify or split it"}
        return outcome

    def _compute(self, expression: str, digits: int, outcome: dict[str, Any]) -> None:
        try:
            tree = parse(expression)
            value = evaluate(tree)
            if isinstance(value, sympy.Eq) or (isinstance(value, sympy.Tuple) and value.has(sympy.Eq)):
                value = sympy.solve(value, dict=True)  # a bare equation or system: solve it
            outcome.update(expression=sympy.sstr(tree), result=_text(value), numeric=numeric(value, digits))
        except CalculatorError as exc:
            outcome.update(error=str(exc))
        except Exception as exc:  # sympy's own failures (unsolvable, undefined...) are answers too
            outcome.update(error=f"{type(exc).__name__}: {exc}")


def _text(value: Any) -> str:
    try:
        return sympy.sstr(value)
    except ValueError:  # an integer beyond Python's digit limit for str()
        return "(too many digits to print exactly; see 'numeric')"


class CalculatorTool(Tool):
    """Agent-facing wrapper of `Calculator`."""

    name: ClassVar[str] = "calculator"
    description: ClassVar[str] = (
        "Exact arithmetic and algebra. Examples: '2**64 - 1', '3/7 + 1/14', 'sqrt(8)', 'log(1000, 10)', "
        "'15% of 240', '10!', 'simplify(sin(x)**2 + cos(x)**2)', 'expand((x+1)**3)', 'factor(x**2 - 1)', "
        "'solve(x**2 - 5*x + 6 = 0, x)', 'solve([x + y = 10, x - y = 2], [x, y])', 'diff(x**3, x)', "
        "'integrate(x**2, (x, 0, 1))', 'N(pi, 50)'. Returns the exact result and a decimal approximation."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "expression": {"type": "string", "description": "The math expression to evaluate."},
            "digits": {
                "type": "integer",
                "description": "Significant digits of the approximation (default 15).",
            },
        },
        "required": ["expression"],
        "additionalProperties": False,
    }

    def __init__(self, calculator: Calculator | None = None):
        self.calculator = calculator or Calculator()

    async def call(self, **arguments: Any) -> dict[str, Any]:
        """Evaluate `expression` (and optional `digits`) without blocking the event loop."""
        try:
            digits = int(arguments.get("digits") or 15)
        except (TypeError, ValueError):
            return {"error": "'digits' must be an integer"}
        return await asyncio.to_thread(self.calculator.evaluate, arguments.get("expression"), digits=digits)
