"""A forgiving HTML parser for the web_agent pages a model writes: HTML text in, a tree of `Node`s out.

`parse_html` builds the document tree with the stdlib `HTMLParser`, closing what HTML closes implicitly
(a new <li> ends the open one, a block ends an open <p>, heading or button), ignoring end tags that close
nothing, and never raising. `markup_of` takes the HTML out of a model's reply (a code fence, prose
around it). Turning the tree into the page notation is `flows.web_pages`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VOID = _words("area base br col embed hr img input link meta param source track wbr")
#: elements whose content is never on the page the agent sees
SKIPPED = _words(
    "script style head title meta link base template svg noscript iframe object canvas video audio "
    "map datalist"
)
#: inline elements without a role of their own: their text joins the text around them
PHRASE = _words(
    "a abbr b bdi bdo br cite code data del em font i ins kbd mark q s small span strong sub sup time u var"
)
#: an opening tag of these closes an open <p> (HTML's implied end tag)
BLOCK = _words(
    "address article aside blockquote dd details dialog div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main menu nav ol p pre section table ul"
)
CLOSED_BY_BLOCK = _words("p h1 h2 h3 h4 h5 h6 button")
#: what may stand in <head>; any other element ends it, as in a browser (a model put its <nav> there)
HEAD_CONTENT = _words("title meta link style script base noscript template")
#: opening tag -> (open tags it closes, tags that stop the search): HTML's other implied end tags
IMPLIED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol", "menu"})),
    # links and buttons do not nest: a new one ends the open one (its end tag was forgotten)
    "a": (frozenset({"a"}), frozenset()),
    "button": (frozenset({"button"}), frozenset()),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup"})),
    "optgroup": (frozenset({"optgroup", "option"}), frozenset({"select"})),
    "tr": (frozenset({"tr", "td", "th"}), frozenset({"table", "thead", "tbody", "tfoot"})),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "dt": (frozenset({"dt", "dd"}), frozenset({"dl"})),
    "dd": (frozenset({"dt", "dd"}), frozenset({"dl"})),
    **{
        tag: (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"}))
        for tag in ("thead", "tbody", "tfoot")
    },
}
#: deepest nesting kept: deeper elements (a model repeating "<span>" in a loop) become siblings, so
#: the converter's recursion stays far from Python's limit
MAX_DEPTH = 100
FENCE = re.compile(r"```[\w-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
FIRST_TAG = re.compile(r"<(?:!doctype|[a-zA-Z])", re.IGNORECASE)


@dataclass(eq=False)
class Node:
    """One HTML element of the parsed document, its text pieces and child elements in order."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)


class _DocumentBuilder(HTMLParser):
    """A forgiving DOM builder: implied end tags, void elements, and stray end tags that close nothing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        node = Node(tag, {name: value or "" for name, value in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID and len(self.stack) < MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        top = self.stack[-1]
        if top.tag == tag and not top.children and top is not self.root:
            self.stack.pop()  # <div/> written by a model means an empty element, not an open one

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)

    def _close_implied(self, tag: str) -> None:
        if tag not in HEAD_CONTENT:
            self._close(frozenset({"head"}), frozenset())
        if tag in IMPLIED:
            self._close(*IMPLIED[tag])
        if tag in BLOCK:
            # a block ends an open <p> (as HTML does), heading or button (a model's missing </h2> or
            # </button>), across inline elements only
            self._close(CLOSED_BY_BLOCK, None)

    def _close(self, closes: frozenset[str], stops: frozenset[str] | None) -> None:
        """Close the nearest open `closes` element unless a `stops` one (None: any non-inline) is nearer."""
        for index in range(len(self.stack) - 1, 0, -1):
            open_tag = self.stack[index].tag
            if open_tag in closes:
                del self.stack[index:]
                return
            if open_tag in stops if stops is not None else open_tag not in PHRASE:
                return


def parse_html(html: str) -> Node:
    """The document tree of an HTML text, however malformed."""
    builder = _DocumentBuilder()
    try:
        builder.feed(html)
        builder.close()
    except AssertionError:  # _markupbase asserts on a broken "<![" section: keep what came before it
        pass
    return builder.root


def markup_of(text: str) -> str:
    """The HTML inside a reply: out of its code fence, without prose before the first tag or after </html>."""
    fenced = FENCE.search(text)
    if fenced and "<" in fenced[1]:
        text = fenced[1]
    if '=\\"' in text:  # HTML whose JSON string was escaped twice still carries the backslashes
        text = text.replace('\\"', '"').replace("\\n", "\n")
    start = FIRST_TAG.search(text)
    if start is None:
        return ""
    text = text[start.start() :]
    end = text.lower().rfind("</html>")
    if end >= 0:
        return text[: end + len("</html>")]
    last = text.rfind(">") + 1
    # prose on its own lines after the last tag is the model's comment, not part of the page
    return text[:last] if text[last:].lstrip(" \t").startswith("\n") else text
