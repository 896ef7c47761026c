"""Splitting documents into seeds on paragraph, section and definition boundaries.

A document is first cut into units — blank-line separated paragraphs for prose (a heading line also
starts a unit), top-level blocks for code (a non-indented line after a blank line starts one) — then
units are packed greedily into chunks of at most `max_chars`. Section headings (Markdown `#`, reST/setext
underlined titles, HTML headings, which the HTML reader renders as `#` lines) and top-level definitions
start a new chunk once the current one has `min_chars`. A unit longer than `max_chars` is split at
sentence ends (blank lines for code), then line ends, then spaces, and as a last resort hard-split.
Short chunks are merged into a neighbour while that keeps it within 1.5 x `max_chars`. Documents of kind
"api" (rendered OpenAPI specs: `##` group headings, one paragraph per operation) are chunked as prose, so a
large spec splits at operation groups, then between operations; a chunk holding no operation (the spec's
header) is joined to the next one, so every api seed offers something to call.

Spans are character offsets into `document.text` (already newline-normalised by the readers) and are
trimmed by moving their ends, never by editing text, so `seed.text == document.text[start:end]`.
Reading files is elsewhere (`readers`, `sources`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from agentinstruct.documents.api_readers import OPERATION_LINE
from agentinstruct.documents.records import Document, Seed, make_seed

MERGE_LIMIT_FACTOR = 1.5

_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_ADORNMENT = re.compile(r"([=\-~^\"'`#*+_:.])\1{2,}[ \t]*$")
_FENCE = re.compile(r" {0,3}(?:```|~~~)")
_CLOSING_LINE = re.compile(r"[}\])]")
_CODE_PREAMBLE = re.compile(r"(?:@|#|//|/\*|\*|--|;)")
_DEFINITION = re.compile(
    r"(?:export\s+|pub(?:\([\w:]+\))?\s+|public\s+|private\s+|protected\s+|internal\s+|static\s+|final\s+"
    r"|abstract\s+|async\s+|default\s+|override\s+|unsafe\s+|extern\s+|inline\s+)*"
    r"(?:def|class|function|func|fn|struct|enum|trait|impl|interface|type|module|object|sub|proc|record"
    r"|macro_rules!|CREATE)\b"
)
_C_SIGNATURE = re.compile(r"[A-Za-z_][\w:<>,*&\s]*[\s*&]\**[A-Za-z_][\w:~]*\s*\(")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_LINE_END = re.compile(r"\n")
_WHITESPACE = re.compile(r"\s")


@dataclass
class _Unit:
    start: int
    end: int
    boundary: bool = False  # a heading or definition: may start a new chunk
    title_only: bool = False  # nothing but a heading: should travel with what follows


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> list[tuple[int, str]]:
    offsets, position = [], 0
    for line in text.split("\n"):
        offsets.append((position, line))
        position += len(line) + 1
    return offsets


def _mark_underlined_title(unit: _Unit, unit_lines: list[str]) -> None:
    first_is_adornment = bool(_ADORNMENT.match(unit_lines[0]))
    if len(unit_lines) >= 2 and not first_is_adornment and _ADORNMENT.match(unit_lines[1]):
        unit.boundary, unit.title_only = True, len(unit_lines) == 2
    elif len(unit_lines) >= 3 and first_is_adornment and _ADORNMENT.match(unit_lines[2]):
        unit.boundary, unit.title_only = True, len(unit_lines) == 3


def _prose_units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    unit_lines: list[list[str]] = []
    in_fence = False
    current: _Unit | None = None
    for start, line in _lines(text):
        if not line.strip():
            current = None
            continue
        is_fence = bool(_FENCE.match(line))
        in_fence = in_fence != is_fence
        heading = not in_fence and not is_fence and bool(_ATX_HEADING.match(line))
        if current is None or heading:
            current = _Unit(start, start + len(line), boundary=heading, title_only=heading)
            units.append(current)
            unit_lines.append([line])
        else:
            current.end = start + len(line)
            current.title_only = False
            unit_lines[-1].append(line)
    for unit, lines in zip(units, unit_lines, strict=True):
        if not unit.boundary:
            _mark_underlined_title(unit, lines)
        unit.start, unit.end = _trim(text, unit.start, unit.end)
    return units


def _is_definition(block_lines: list[str]) -> bool:
    for line in block_lines:
        if not line.strip() or _CODE_PREAMBLE.match(line):
            continue
        return bool(_DEFINITION.match(line) or _C_SIGNATURE.match(line))
    return False


def _code_units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    unit_lines: list[list[str]] = []
    previous_blank = True
    for start, line in _lines(text):
        if not line.strip():
            previous_blank = True
            continue
        top_level = not line[0].isspace() and not _CLOSING_LINE.match(line)
        if not units or (previous_blank and top_level):
            units.append(_Unit(start, start + len(line)))
            unit_lines.append([line])
        else:
            units[-1].end = start + len(line)
            unit_lines[-1].append(line)
        previous_blank = False
    for unit, lines in zip(units, unit_lines, strict=True):
        unit.boundary = _is_definition(lines)
        unit.start, unit.end = _trim(text, unit.start, unit.end)
    return units


def _cut_positions(text: str, start: int, end: int, pattern: re.Pattern[str], at_end: bool) -> list[int]:
    return [m.end() if at_end else m.start() for m in pattern.finditer(text, start, end)]


def _split_oversized(text: str, unit: _Unit, max_chars: int, is_code: bool) -> list[_Unit]:
    levels = [
        (_BLANK_LINE, False) if is_code else (_SENTENCE_END, True),
        (_LINE_END, False),
        (_WHITESPACE, False),
    ]
    cuts = [_cut_positions(text, unit.start, unit.end, pattern, at_end) for pattern, at_end in levels]
    pieces: list[_Unit] = []
    position = unit.start
    while position < unit.end:
        limit = position + max_chars
        cut = unit.end if unit.end <= limit else _best_cut(cuts, position, limit, max_chars)
        piece_start, piece_end = _trim(text, position, cut)
        pieces.append(_Unit(piece_start, piece_end, boundary=unit.boundary and not pieces))
        position, _ = _trim(text, cut, unit.end)
    return pieces


def _best_cut(cuts: list[list[int]], position: int, limit: int, max_chars: int) -> int:
    for floor in (position + max_chars // 4, position):
        for positions in cuts:
            index = bisect.bisect_right(positions, limit) - 1
            if index >= 0 and positions[index] > floor:
                return positions[index]
    return limit


def _pack(units: list[_Unit], max_chars: int, min_chars: int) -> list[list[_Unit]]:
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        if not current:
            current = [unit]
            continue
        new_section = unit.boundary and current[-1].end - current[0].start >= min_chars
        if unit.end - current[0].start <= max_chars and not new_section:
            current.append(unit)
            continue
        carried: list[_Unit] = []
        if len(current) > 1 and current[-1].title_only and unit.end - current[-1].start <= max_chars:
            carried = [current.pop()]
        chunks.append(current)
        current = [*carried, unit]
    if current:
        chunks.append(current)
    return chunks


def _merge_short(spans: list[tuple[int, int, bool]], min_chars: int, limit: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int, bool]] = []
    pending: tuple[int, int, bool] | None = None

    def extend_previous(end: int) -> bool:
        if not merged or end - merged[-1][0] > limit:
            return False
        merged[-1] = (merged[-1][0], end, merged[-1][2])
        return True

    for index, (start, end, boundary) in enumerate(spans):
        if pending is not None:
            if end - pending[0] <= limit:
                start, boundary = pending[0], pending[2]
            elif not extend_previous(pending[1]):
                merged.append(pending)
            pending = None
        is_short, is_last = end - start < min_chars, index == len(spans) - 1
        if is_short and (is_last or not boundary) and extend_previous(end):
            continue
        if is_short and not is_last:
            pending = (start, end, boundary)
        else:
            merged.append((start, end, boundary))
    return [(start, end) for start, end, _ in merged]


def chunk_spans(
    text: str, *, is_code: bool, max_chars: int = 2000, min_chars: int = 200
) -> list[tuple[int, int]]:
    """Return the (start, end) spans `chunk_document` would cut `text` into."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1 (got {max_chars}); pass a positive chunk size.")
    if not 0 <= min_chars <= max_chars:
        raise ValueError(f"min_chars must be between 0 and max_chars={max_chars} (got {min_chars}).")
    units = _code_units(text) if is_code else _prose_units(text)
    sized: list[_Unit] = []
    for unit in units:
        too_long = unit.end - unit.start > max_chars
        sized.extend(_split_oversized(text, unit, max_chars, is_code) if too_long else [unit])
    chunks = _pack(sized, max_chars, min_chars)
    spans = [(chunk[0].start, chunk[-1].end, chunk[0].boundary) for chunk in chunks]
    return _merge_short(spans, min_chars, int(max_chars * MERGE_LIMIT_FACTOR))


def _join_operationless(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join each span of a rendered API spec that holds no operation to the span after it."""
    joined: list[tuple[int, int]] = []
    start: int | None = None
    for index, (span_start, span_end) in enumerate(spans):
        start = span_start if start is None else start
        if OPERATION_LINE.search(text, span_start, span_end) or index == len(spans) - 1:
            joined.append((start, span_end))
            start = None
    return joined


def chunk_document(document: Document, *, max_chars: int = 2000, min_chars: int = 200) -> list[Seed]:
    """Split `document` into seeds of about `max_chars` characters on natural boundaries."""
    spans = chunk_spans(
        document.text, is_code=document.kind == "code", max_chars=max_chars, min_chars=min_chars
    )
    if document.kind == "api":
        spans = _join_operationless(document.text, spans)
    return [make_seed(document, start, end) for start, end in spans]
