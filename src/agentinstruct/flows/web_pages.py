"""HTML → accessibility tree for the web_agent skill: the model writes a page as HTML, code writes the tree.

Small models write HTML well but not our page notation, so the web_agent flow asks for HTML and converts
it here. `html_to_tree` turns an HTML page (a document or a fragment, malformed, in a code fence, after
some prose) into the notation `agentinstruct.quality.web` parses: `[id] role "name" value="..." (states)`,
ids counting up from 1 in reading order, children indented two spaces. `looks_like_html` tells HTML from
that notation. Parsing HTML lives in `flows.web_html`, parsing and checking the notation in `quality.web`;
calling the converter and rejecting pages too small to act on is `flows.web_agent`'s job.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from agentinstruct.flows.web_html import BLOCK, PHRASE, SKIPPED, VOID, Node, markup_of, parse_html
from agentinstruct.quality.web import ELEMENT

TAG_ROLES = {
    "header": "banner", "nav": "navigation", "main": "main", "footer": "contentinfo",
    "aside": "complementary", "article": "article", "p": "text", "figcaption": "text", "button": "button",
    "textarea": "textbox", "option": "option", "img": "img", "ul": "list", "ol": "list", "menu": "list",
    "dl": "list", "li": "listitem", "dt": "listitem", "dd": "listitem", "table": "table", "tr": "row",
    "td": "cell", "form": "form", "fieldset": "group", "details": "group", "summary": "button",
    "dialog": "dialog", "figure": "figure", "progress": "progressbar",
    **{f"h{level}": "heading" for level in range(1, 7)},
}  # fmt: skip
INPUT_ROLES = {
    "submit": "button", "button": "button", "reset": "button", "image": "button", "file": "button",
    "search": "searchbox", "checkbox": "checkbox", "radio": "radio", "range": "slider",
}  # fmt: skip
#: roles that add nothing of their own: their children are lifted to the parent's depth
LIFTED = frozenset({"none", "presentation", "generic"})
#: roles named by their whole text (a button's label, a link's words)
LEAF_CONTENT = frozenset(
    {"link", "button", "heading", "option", "tab", "menuitem", "checkbox", "radio", "switch", "treeitem"}
)
#: roles named by their text when it holds only text and links (a cell, a list item, an alert)
CONTENT = frozenset(
    {"text", "listitem", "cell", "columnheader", "rowheader", "alert", "status", "caption", "tooltip"}
)
#: roles whose element shows nothing beneath it but what the converter adds (options of a select)
LEAVES = frozenset(
    {"button", "link", "textbox", "searchbox", "checkbox", "radio", "switch", "img", "option", "slider",
     "spinbutton", "combobox", "listbox", "progressbar", "separator"}
)  # fmt: skip
TOGGLES = frozenset({"checkbox", "radio", "switch"})
FIELDS = frozenset({"textbox", "searchbox", "combobox", "listbox", "spinbutton", "slider"})
FORM_TAGS = frozenset({"input", "select", "textarea"})
BUTTON_DEFAULTS = {"submit": "Submit", "reset": "Reset"}
ROLE_WORD = re.compile(r"[A-Za-z][\w-]*")
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*>")
HTML_TAGS = VOID | SKIPPED | PHRASE | BLOCK | set(TAG_ROLES) | {"html", "body", "input", "select", "label"}


@dataclass
class TreeElement:
    """One line of the tree notation before numbering."""

    role: str
    name: str = ""
    value: str | None = None
    states: list[str] = field(default_factory=list)
    children: list[TreeElement] = field(default_factory=list)


def looks_like_html(text: str) -> bool:
    """Whether a text is HTML markup rather than the `[id] role "name"` page notation."""
    tags = sum(1 for found in TAG.finditer(text) if found[1].lower() in HTML_TAGS)
    tree = sum(1 for line in text.splitlines() if ELEMENT.match(line))
    return tags >= 2 and tags > tree


def html_to_tree(html: str) -> str:
    """The page notation of an HTML page; "" when the page has no elements."""
    root = parse_html(markup_of(html))
    converter = _Converter(root)
    page = TreeElement("page", converter.title())
    converter.walk(root.children, page.children)
    if not page.children:
        return ""
    return "\n".join(_lines(page, 0, itertools.count(1)))


def _lines(element: TreeElement, depth: int, ids: Iterator[int]) -> Iterator[str]:
    line = f'{"  " * depth}[{next(ids)}] {element.role} "{_quotable(element.name)}"'
    if element.value:
        line += f' value="{_quotable(element.value)}"'
    if element.states:
        line += f" ({', '.join(element.states)})"
    yield line
    for child in element.children:
        yield from _lines(child, depth + 1, ids)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _wordy(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _quotable(text: str) -> str:
    # a double quote would end the name early for the ELEMENT pattern of quality.web
    return _clean(text).replace('"', "'")


def _on(node: Node, attribute: str, aria: str) -> bool:
    return attribute in node.attrs or node.attrs.get(aria, "").strip().lower() == "true"


class _Converter:
    """Walks a parsed document and builds the tree elements (roles, names, values, states)."""

    def __init__(self, root: Node):
        self.root = root
        self.by_id: dict[str, Node] = {}
        self.label_for: dict[str, Node] = {}
        for node in self._descendants(root):
            if "id" in node.attrs:
                self.by_id.setdefault(node.attrs["id"], node)
            if node.tag == "label" and node.attrs.get("for"):
                self.label_for.setdefault(node.attrs["for"], node)

    def _descendants(self, node: Node) -> Iterator[Node]:
        for child in node.children:
            if isinstance(child, Node):
                yield child
                yield from self._descendants(child)

    def title(self) -> str:
        """The page's name: its <title>, else its first <h1>, else "Page"."""
        for tag in ("title", "h1"):
            node = next((n for n in self._descendants(self.root) if n.tag == tag), None)
            text = _clean(self._text(node.children, self._leaf_keep)) if node else ""
            if text:
                return text
        return "Page"

    # -- classifying nodes ---------------------------------------------------------------------------
    def role(self, node: Node) -> str | None:
        """The node's role: an explicit role= first, then its tag's; None for a plain wrapper."""
        explicit = node.attrs.get("role", "").split()
        if explicit and ROLE_WORD.fullmatch(explicit[0]):
            return explicit[0].lower()
        tag, attrs = node.tag, node.attrs
        if tag == "input":
            return INPUT_ROLES.get(attrs.get("type", "").strip().lower(), "textbox")
        if tag == "a":
            return "link" if "href" in attrs else None
        if tag == "select":
            size = attrs.get("size", "1").strip()
            return "listbox" if "multiple" in attrs or (size.isdigit() and int(size) > 1) else "combobox"
        if tag == "th":
            return "rowheader" if attrs.get("scope", "").lower() == "row" else "columnheader"
        if tag == "section":
            return "region" if attrs.get("aria-label") or attrs.get("aria-labelledby") else None
        if tag in ("header", "footer") and self._sectioned(node):
            return None  # a header inside an article or section is not the page's banner
        return TAG_ROLES.get(tag)

    def _sectioned(self, node: Node) -> bool:
        parent = node.parent
        while parent is not None:
            if parent.tag in ("article", "aside", "main", "nav", "section"):
                return True
            parent = parent.parent
        return False

    def _hidden(self, node: Node) -> bool:
        attrs = node.attrs
        if node.tag in SKIPPED or "hidden" in attrs or attrs.get("aria-hidden", "").lower() == "true":
            return True
        if node.tag == "input" and attrs.get("type", "").strip().lower() == "hidden":
            return True
        style = attrs.get("style", "").replace(" ", "").lower()
        return "display:none" in style or "visibility:hidden" in style

    def _inline(self, node: Node) -> bool:
        """Whether a node's text joins the text run around it (inline markup and links)."""
        role = self.role(node)
        return self._hidden(node) or role == "link" or (node.tag in PHRASE and role is None)

    def _inline_only(self, node: Node) -> bool:
        """Whether a node holds only text, links and images (through wrappers and paragraphs)."""
        for child in node.children:
            if isinstance(child, str) or self._hidden(child):
                continue
            role = self.role(child)
            if role in ("link", "img"):
                continue
            if child.tag == "label" or role not in (None, "text", *LIFTED) or not self._inline_only(child):
                return False
        return True

    # -- text ----------------------------------------------------------------------------------------
    def _text(self, nodes: Iterable[Node | str], keep: Callable[[Node], bool]) -> str:
        parts: list[str] = []
        for child in nodes:
            if isinstance(child, str):
                parts.append(child)
            elif keep(child):
                # block elements and line breaks separate words; inline markup does not
                gap = "" if child.tag in PHRASE and child.tag != "br" else " "
                parts.append(gap + self._text(child.children, keep) + gap)
        return "".join(parts)

    def _leaf_keep(self, node: Node) -> bool:
        return not self._hidden(node) and node.tag not in FORM_TAGS

    def _inline_keep(self, node: Node) -> bool:
        return not self._hidden(node) and self.role(node) in (None, "text", "link", *LIFTED)

    def _own_keep(self, node: Node) -> bool:
        return self._inline_keep(node) and self.role(node) != "link"

    def _embedded(self, nodes: Iterable[Node | str]) -> Iterator[Node]:
        """The nodes with a role of their own inside `nodes`, looking through wrappers and paragraphs."""
        for child in nodes:
            if isinstance(child, str) or self._hidden(child):
                continue
            if self.role(child) in (None, "text", *LIFTED) and child.tag != "label":
                yield from self._embedded(child.children)
            else:
                yield child

    # -- walking -------------------------------------------------------------------------------------
    def walk(self, nodes: Iterable[Node | str], out: list[TreeElement]) -> None:
        """Append the elements of `nodes` to `out`; runs of loose text become text elements."""
        run: list[Node | str] = []
        for child in nodes:
            if isinstance(child, str) or self._inline(child):
                run.append(child)
                continue
            self._flush(run, out)
            run = []
            self.element(child, out)
        self._flush(run, out)

    def _flush(self, run: list[Node | str], out: list[TreeElement]) -> None:
        own = self._text(run, self._own_keep)
        target = out
        embedded = list(self._embedded(run))
        last = out[-1] if out else None
        if last and last.role in TOGGLES and not last.name and not embedded and _wordy(own):
            last.name = _clean(own)  # "<input type=checkbox> I agree" without a <label>: the text names it
            return
        if _wordy(own):  # separators between links ("|", "·") are not text
            text = TreeElement("text", _clean(self._text(run, self._inline_keep)))
            out.append(text)
            target = text.children
        for child in embedded:
            self.element(child, target)

    def element(self, node: Node, out: list[TreeElement], label: str = "") -> None:
        """Append the element for one node (or its lifted children) to `out`."""
        if self._hidden(node) or (
            node.tag in ("legend", "caption") and node.parent and node.parent.tag in ("fieldset", "table")
        ):
            return  # hidden, or already the name of its group or table
        role = self.role(node)
        if node.tag == "label":
            self._label(node, out)
        elif role is None or role in LIFTED or (role == "text" and not self._inline_only(node)):
            self.walk(node.children, out)
        else:
            self._add(node, role, out, label)

    def _add(self, node: Node, role: str, out: list[TreeElement], label: str) -> None:
        name = self._name(node, role, label)
        if role in ("img", "text") and not name:
            self._lift_embedded(node, out)  # an unnamed image or an empty paragraph shows nothing itself
            return
        last = out[-1] if out else None
        if not name and role in FIELDS and last and last.role == "text" and last.name.endswith(":"):
            name = last.name[:-1]  # "Phone: <input>" without a <label>: the text before names the field
        element = TreeElement(role, name, *self._value_states(node, role))
        out.append(element)
        if node.tag == "select":
            element.children = self._options(node)
        elif role == "heading" or (role in CONTENT and self._inline_only(node)):
            self._lift_embedded(node, element.children)
        elif role not in LEAVES:
            self.walk(node.children, element.children)

    def _lift_embedded(self, node: Node, out: list[TreeElement]) -> None:
        for child in self._embedded(node.children):
            self.element(child, out)

    def _label(self, node: Node, out: list[TreeElement]) -> None:
        """A label names its field: a field it wraps gets its text, one it points to already has it."""
        controls = list(self._embedded(node.children))
        if controls:
            text = _clean(self._text(node.children, self._inline_keep))
            for control in controls:
                self.element(control, out, text)
        elif node.attrs.get("for", "") not in self.by_id:  # a label of no field is text on the page
            text = _clean(self._text(node.children, self._leaf_keep))
            if text:
                out.append(TreeElement("text", text))

    # -- names, values and states --------------------------------------------------------------------
    def _name(self, node: Node, role: str, label: str) -> str:
        attrs = node.attrs
        referenced = [self.by_id.get(i) for i in attrs.get("aria-labelledby", "").split()]
        names = [attrs.get("aria-label"), " ".join(self._plain(n) for n in referenced if n)]
        if node.tag == "input" and role == "button":
            names.append(attrs.get("value") or BUTTON_DEFAULTS.get(attrs.get("type", "").lower(), ""))
        if node.tag in FORM_TAGS or node.attrs.get("id") in self.label_for:
            target = self.label_for.get(attrs.get("id", ""))
            names += [self._plain(target) if target else "", label, attrs.get("placeholder")]
        names.append(attrs.get("alt"))
        if node.tag in ("fieldset", "table"):
            parts = [n for n in node.children if isinstance(n, Node) and n.tag in ("legend", "caption")]
            names.append(self._plain(parts[0]) if parts else "")
        if role in LEAF_CONTENT and node.tag not in FORM_TAGS:
            inner = [n.attrs.get("alt", "") for n in self._descendants(node) if n.tag == "img"]
            names += [self._plain(node), " ".join(inner)]
        elif (
            role in CONTENT and self._inline_only(node) and _wordy(self._text(node.children, self._own_keep))
        ):
            # text around links names the item; a lone link names itself, not its list item or cell too
            names.append(self._text(node.children, self._inline_keep))
        names.append(attrs.get("title"))
        return next((_clean(n) for n in names if _clean(n)), "")

    def _plain(self, node: Node) -> str:
        return self._text(node.children, self._leaf_keep)

    def _value_states(self, node: Node, role: str) -> tuple[str | None, list[str]]:
        attrs, value = node.attrs, None
        if node.tag == "input" and role not in ("button", "checkbox", "radio", "switch"):
            value = attrs.get("value")
        elif node.tag == "textarea":
            value = self._text(node.children, self._leaf_keep)
        elif node.tag == "select":
            value = next((o.name for o in self._options(node) if "selected" in o.states), None)
        elif attrs.get("aria-valuetext") or attrs.get("aria-valuenow"):
            value = attrs.get("aria-valuetext") or attrs.get("aria-valuenow")
        expanded = attrs.get("aria-expanded", "").lower() == "true" or (
            node.tag == "summary" and node.parent is not None and "open" in node.parent.attrs
        )
        states = {
            "required": _on(node, "required", "aria-required"),
            "checked": _on(node, "checked", "aria-checked"),
            "selected": attrs.get("aria-selected", "").lower() == "true",
            "disabled": _on(node, "disabled", "aria-disabled"),
            "invalid": attrs.get("aria-invalid", "false").strip().lower() not in ("false", ""),
            "expanded": expanded,
            "readonly": _on(node, "readonly", "aria-readonly"),
        }
        return _clean(value) or None, [state for state, on in states.items() if on]

    def _options(self, select: Node) -> list[TreeElement]:
        """A select's options; without a selected one, the first shows as selected (as browsers do)."""
        nodes = [n for n in self._descendants(select) if n.tag == "option" and not self._hidden(n)]
        chosen = [n for n in nodes if "selected" in n.attrs]
        if not chosen and nodes and self.role(select) == "combobox":
            chosen = nodes[:1]
        options = []
        for option in nodes:
            name = _clean(self._plain(option)) or _clean(option.attrs.get("label"))
            states = ["selected"] * (option in chosen) + ["disabled"] * ("disabled" in option.attrs)
            options.append(TreeElement("option", name, states=states))
        return options
