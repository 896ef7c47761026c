"""Readers for formats whose text must be extracted from markup: HTML and PDF.

HTML is parsed with BeautifulSoup and the stdlib "html.parser"; script, style, nav (and similar
non-content elements) are dropped, block elements become paragraphs separated by blank lines, and headings
become Markdown-style lines ("## Title") so the chunker can start sections at them. PDF text comes from
pypdf, one page per paragraph group, pages separated by blank lines. Plain text and code are in `readers`.
"""

from __future__ import annotations

import io
import re

import pypdf
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from agentinstruct.documents.decoding import decode_text, empty_failure, normalize_newlines
from agentinstruct.documents.readers import Reader
from agentinstruct.documents.records import DocumentFailure

_DROPPED_TAGS = ("script", "style", "nav", "noscript", "template", "head", "iframe", "svg", "canvas")
_HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div"),
        *("dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li"),
        *("main", "ol", "p", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"),
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_SPACES = re.compile(r"\s+")


class _BlockCollector:
    """Walks an HTML tree and collects its visible text as a list of paragraph blocks."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._inline: list[str] = []

    def flush(self) -> None:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self._inline).split("\n"))
        block = "\n".join(line for line in lines if line)
        if block:
            self.blocks.append(block)
        self._inline = []

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, _SKIPPED_STRINGS):
                continue
            if isinstance(child, NavigableString):
                self._inline.append(str(child).replace("\n", " "))
            elif isinstance(child, Tag):
                self._visit(child)

    def _visit(self, tag: Tag) -> None:
        if tag.name in _HEADING_LEVELS:
            self.flush()
            title = _SPACES.sub(" ", tag.get_text(" ")).strip()
            if title:
                self.blocks.append("#" * _HEADING_LEVELS[tag.name] + " " + title)
        elif tag.name == "pre":
            self.flush()
            block = "\n".join(line.rstrip() for line in normalize_newlines(tag.get_text()).split("\n"))
            if block.strip():
                self.blocks.append(block.strip("\n"))
        elif tag.name == "br":
            self._inline.append("\n")
        elif tag.name in _BLOCK_TAGS:
            self.flush()
            self.walk(tag)
            self.flush()
        else:
            self.walk(tag)
            if tag.name in _CELL_TAGS:
                self._inline.append(" ")


def html_to_text(markup: str) -> str:
    """Extract the visible text of an HTML page as blank-line separated paragraphs."""
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    collector = _BlockCollector()
    collector.walk(soup)
    collector.flush()
    return "\n\n".join(collector.blocks)


class HtmlReader(Reader):
    """HTML pages: visible text only, with headings as Markdown-style lines."""

    suffixes = (".html", ".htm", ".xhtml")
    kind = "text"

    def language_for(self, path: str) -> str | None:
        """Always "html"."""
        return "html"

    def extract(self, raw: bytes, source: str) -> str | DocumentFailure:
        """Decode the page and keep its visible text."""
        markup = decode_text(raw, source)
        if isinstance(markup, DocumentFailure):
            return markup
        try:
            text = html_to_text(markup)
        except RecursionError:
            return DocumentFailure(
                source, "parse_error", f"{source} is nested too deeply to parse; simplify or pre-convert it."
            )
        if not text.strip():
            return empty_failure(source, "it has no visible text outside script/style/nav elements")
        return text


class PdfReader(Reader):
    """PDF files: the text layer of every page, pages separated by blank lines."""

    suffixes = (".pdf",)
    kind = "text"

    def language_for(self, path: str) -> str | None:
        """Always "pdf"."""
        return "pdf"

    def extract(self, raw: bytes, source: str) -> str | DocumentFailure:
        """Extract the page texts with pypdf."""
        if not raw.strip():
            return empty_failure(source)
        try:
            pdf = pypdf.PdfReader(io.BytesIO(raw))
            if pdf.is_encrypted and not pdf.decrypt(""):
                return DocumentFailure(
                    source,
                    "parse_error",
                    f"{source} is password-protected; decrypt it first, e.g. `qpdf --decrypt --password=... "
                    f"{source} out.pdf`.",
                )
            pages = [normalize_newlines(page.extract_text() or "").strip() for page in pdf.pages]
        except Exception as error:  # pypdf raises many unrelated types on malformed files
            return DocumentFailure(
                source,
                "parse_error",
                f"{source} could not be parsed as a PDF ({type(error).__name__}: {error}); "
                "re-export or repair it (e.g. `qpdf in.pdf out.pdf`).",
            )
        text = "\n\n".join(page for page in pages if page)
        if not text:
            return empty_failure(source, "it has no text layer (a scanned PDF? run OCR such as `ocrmypdf`)")
        return text
