"""The HTML → accessibility-tree converter of the web_agent skill (`flows.web_pages`): exact trees for small
pages, roles, names, values and states on realistic pages, and robustness to what small models write."""

from __future__ import annotations

import random

import pytest

from agentinstruct.flows.web_pages import html_to_tree, looks_like_html
from agentinstruct.quality.web import Page, parse_page

pytestmark = pytest.mark.timeout(60)

SIGN_UP = """<!DOCTYPE html>
<html>
<head><title>Join the Harbour Rowing Club</title><style>body { color: red; }</style></head>
<body>
<main>
  <h1>Sign up</h1>
  <div role="alert">Please correct the email address.</div>
  <form action="/join" method="post">
    <input type="hidden" name="token" value="abc">
    <label for="name">Full name</label>
    <input id="name" name="name" value="Ada Lovelace" required>
    <label for="email">Email</label>
    <input id="email" type="email" value="ada@" required aria-invalid="true">
    <p>Enter an address like name@example.com.</p>
    <label><input type="checkbox" name="news" checked> Send me the newsletter</label>
    <button type="submit">Join</button>
  </form>
</main>
<script>document.title = "x";</script>
</body>
</html>"""
SIGN_UP_TREE = """[1] page "Join the Harbour Rowing Club"
  [2] main ""
    [3] heading "Sign up"
    [4] alert "Please correct the email address."
    [5] form ""
      [6] textbox "Full name" value="Ada Lovelace" (required)
      [7] textbox "Email" value="ada@" (required, invalid)
      [8] text "Enter an address like name@example.com."
      [9] checkbox "Send me the newsletter" (checked)
      [10] button "Join\""""

SHOP = """<html><head><title>Trailhead Outfitters - Tents</title></head><body>
<header>
  <a href="/">Trailhead Outfitters</a>
  <nav aria-label="Main"><ul><li><a href="/tents">Tents</a></li><li><a href="/packs">Packs</a></li></ul></nav>
  <input type="search" placeholder="Search the shop"><button>Search</button>
</header>
<main>
  <h1>Tents</h1>
  <p>Showing 3 of 12 tents</p>
  <label for="sort">Sort by</label>
  <select id="sort"><option>Price: low to high</option><option>Best rated</option></select>
  <ul class="products">
    <li>
      <h2><a href="/alpine-2">Alpine 2 Tent</a></h2>
      <div class="price">$199.00</div>
      <span class="rating">4.5 stars</span>
      <button>Add to cart</button>
    </li>
    <li>
      <h2><a href="/ridge-3">Ridge 3 "Ultra" Tent</a></h2>
      <div class="price">$249.00</div>
      <span class="stock">Out of stock</span>
      <button disabled>Add to cart</button>
    </li>
    <li>
      <h2><a href="/basecamp-4">Basecamp 4 Tent</a></h2>
      <div class="price">$329.00</div>
      <button>Add to cart</button>
    </li>
  </ul>
  <div class="pages"><a href="?page=1">1</a> | <a href="?page=2">2</a> | <a href="?page=2">Next</a></div>
</main>
<footer><p>Free returns within 30 days. <a href="/returns">Returns policy</a></p></footer>
</body></html>"""


def roles_and_names(tree: str) -> list[tuple[str, str]]:
    return [(e.role, e.name) for e in parse_page(tree).elements.values()]


def well_formed(tree: str) -> Page:
    """The parsed page, after checking that every line is one element with a unique, counting-up id."""
    page = parse_page(tree)
    assert not page.duplicates
    assert list(page.elements) == list(range(1, len(tree.splitlines()) + 1))
    return page


# -- exact trees -----------------------------------------------------------------------------------------
def test_a_sign_up_form_converts_exactly() -> None:
    assert html_to_tree(SIGN_UP) == SIGN_UP_TREE
    well_formed(SIGN_UP_TREE)


def test_a_table_with_a_caption_converts_exactly() -> None:
    html = """<h1>Fares</h1>
<table>
  <caption>Harbour tram fares</caption>
  <thead><tr><th>Ticket</th><th>Price</th></tr></thead>
  <tbody>
    <tr><th scope="row">Single</th><td>€2.40</td></tr>
    <tr><th scope="row">Day pass</th><td><a href="/day">€6.00</a></td></tr>
  </tbody>
</table>"""
    assert html_to_tree(html) == (
        '[1] page "Fares"\n'
        '  [2] heading "Fares"\n'
        '  [3] table "Harbour tram fares"\n'
        '    [4] row ""\n'
        '      [5] columnheader "Ticket"\n'
        '      [6] columnheader "Price"\n'
        '    [7] row ""\n'
        '      [8] rowheader "Single"\n'
        '      [9] cell "€2.40"\n'
        '    [10] row ""\n'
        '      [11] rowheader "Day pass"\n'
        '      [12] cell ""\n'
        '        [13] link "€6.00"'
    )


def test_selects_show_the_chosen_option_as_their_value() -> None:
    html = """<label for="size">Size</label>
<select id="size" required><option value="">Choose a size</option><option>M</option>
<option selected>L</option><option disabled>XL</option></select>
<label for="zone">Zone</label><select id="zone"><option>A</option><option>B</option></select>
<select aria-label="Extras" multiple><option selected>Map</option><option selected>Torch</option></select>"""
    assert html_to_tree(html) == (
        '[1] page "Page"\n'
        '  [2] combobox "Size" value="L" (required)\n'
        '    [3] option "Choose a size"\n'
        '    [4] option "M"\n'
        '    [5] option "L" (selected)\n'
        '    [6] option "XL" (disabled)\n'
        '  [7] combobox "Zone" value="A"\n'
        '    [8] option "A" (selected)\n'
        '    [9] option "B"\n'
        '  [10] listbox "Extras" value="Map"\n'
        '    [11] option "Map" (selected)\n'
        '    [12] option "Torch" (selected)'
    )


# -- realistic pages -------------------------------------------------------------------------------------
def test_a_shop_listing_keeps_products_prices_and_buttons() -> None:
    tree = html_to_tree(SHOP)
    page = well_formed(tree)
    found = roles_and_names(tree)
    assert found[0] == ("page", "Trailhead Outfitters - Tents")
    for expected in [
        ("banner", ""),
        ("navigation", "Main"),
        ("link", "Tents"),
        ("searchbox", "Search the shop"),
        ("combobox", "Sort by"),
        ("text", "Showing 3 of 12 tents"),
        ("heading", "Alpine 2 Tent"),
        ("link", "Alpine 2 Tent"),
        ("text", "$199.00"),
        ("text", "4.5 stars"),
        ("link", "Ridge 3 'Ultra' Tent"),  # a double quote would end the name early
        ("text", "$329.00"),
        ("link", "Next"),
        ("contentinfo", ""),
        ("text", "Free returns within 30 days. Returns policy"),
        ("link", "Returns policy"),
    ]:
        assert expected in found, expected
    assert found.count(("button", "Add to cart")) == 3
    assert ("text", "|") not in found and ("text", "| |") not in found  # separators between links
    disabled = [e for e in page.elements.values() if "(disabled)" in tree.splitlines()[e.line - 1]]
    assert [(e.role, e.name) for e in disabled] == [("button", "Add to cart")]
    # a product's name, price and button sit together under its list item
    item = next(e for e in page.elements.values() if e.role == "listitem" and e.id > 10)
    under = [e.name for e in page.elements.values() if e.id > item.id and e.depth > item.depth][:5]
    assert under == ["Alpine 2 Tent", "Alpine 2 Tent", "$199.00", "4.5 stars", "Add to cart"]
    assert len(page.elements) == 41


def test_roles_come_from_aria_and_landmarks_are_scoped() -> None:
    html = """<header><h1>Club</h1></header>
<article><header><h2>News</h2></header><p>The regatta is on <time>14 May</time>.</p></article>
<aside><span role="status">3 places left</span></aside>
<div role="navigation" aria-label="Steps"><a href="#1" aria-current="page">Step 1</a></div>
<section aria-labelledby="s">  <h2 id="s">Preferences</h2>
  <fieldset><legend>Contact by</legend>
    <input type="radio" id="r1" name="c" checked><label for="r1">Email</label>
    <input type="radio" name="c"> Phone
  </fieldset>
  <input type="checkbox" role="switch" aria-label="Dark mode" aria-checked="true">
  <button aria-expanded="true">More options</button>
  Age: <input type="number" readonly value="42">
  <textarea aria-label="Notes" disabled>Bring &quot;oars&quot;</textarea>
</section>
<dialog open aria-label="Cookies"><p>We use cookies.</p><button>Accept</button></dialog>"""
    tree = html_to_tree(html)
    well_formed(tree)
    assert tree.splitlines()[1:] == [
        '  [2] banner ""',
        '    [3] heading "Club"',
        '  [4] article ""',
        '    [5] heading "News"',  # a header inside an article is not the page's banner
        '    [6] text "The regatta is on 14 May."',
        '  [7] complementary ""',
        '    [8] status "3 places left"',
        '  [9] navigation "Steps"',
        '    [10] link "Step 1"',
        '  [11] region "Preferences"',
        '    [12] heading "Preferences"',
        '    [13] group "Contact by"',
        '      [14] radio "Email" (checked)',
        '      [15] radio "Phone"',
        '    [16] switch "Dark mode" (checked)',
        '    [17] button "More options" (expanded)',
        '    [18] text "Age:"',
        '    [19] textbox "Age" value="42" (readonly)',
        '    [20] textbox "Notes" value="Bring \'oars\'" (disabled)',
        '  [21] dialog "Cookies"',
        '    [22] text "We use cookies."',
        '    [23] button "Accept"',
    ]


def test_wrappers_are_lifted_and_long_text_is_kept_whole() -> None:
    long = " ".join(["The harbour tram runs every ten minutes from the ferry terminal."] * 12)
    html = f"""<div class="page"><section><div><div>
<p>{long}</p>
<div>Loose text in a wrapper, <b>with</b> markup.</div>
<span></span><div><span><a href="/more">Read more</a></span></div>
</div></div></section></div>"""
    assert html_to_tree(html) == (
        f'[1] page "Page"\n  [2] text "{long}"\n  [3] text "Loose text in a wrapper, with markup."\n'
        '  [4] link "Read more"'
    )


def test_what_the_agent_cannot_see_is_skipped() -> None:
    html = """<head><meta charset="utf-8"><title>T</title><script>var a = "<p>no</p>";</script></head>
<style>p { color: red }</style><template><p>template</p></template><svg><text>chart</text></svg>
<p hidden>hidden</p><p aria-hidden="true">aria hidden</p><p style="display: none">none</p>
<input type="hidden" value="token"><img src="spacer.gif"><img src="logo.png" alt="Club logo">
<!-- a comment --><p>Shown</p>"""
    assert html_to_tree(html) == '[1] page "T"\n  [2] img "Club logo"\n  [3] text "Shown"'


def test_buttons_and_fields_are_named_from_every_source() -> None:
    html = """<input type="submit"><input type="button" value="Apply"><input type="reset">
<button aria-label="Close">×</button><button><img src="s.png" alt="Search"></button>
<span id="lbl">Promo code</span><input aria-labelledby="lbl">
<input placeholder="Your city"><input title="Postcode"><a href="/x" title="Help"></a>"""
    assert roles_and_names(html_to_tree(html))[1:] == [
        ("button", "Submit"),
        ("button", "Apply"),
        ("button", "Reset"),
        ("button", "Close"),
        ("button", "Search"),
        ("text", "Promo code"),
        ("textbox", "Promo code"),
        ("textbox", "Your city"),
        ("textbox", "Postcode"),
        ("link", "Help"),
    ]


# -- what small models write -----------------------------------------------------------------------------
def test_a_fenced_reply_with_prose_around_it() -> None:
    reply = f"Here is the page you asked for:\n\n```html\n{SIGN_UP}\n```\n\nIt has a form with two fields."
    assert html_to_tree(reply) == SIGN_UP_TREE
    unfenced = f"Sure! Below is the HTML.\n{SIGN_UP}\nLet me know if you want changes."
    assert html_to_tree(unfenced) == SIGN_UP_TREE
    # a reply whose JSON string was escaped twice keeps backslashes before its quotes
    escaped = '<h1>Tram</h1>\\n<input type=\\"email\\" aria-label=\\"Email\\" required>'
    assert html_to_tree(escaped) == '[1] page "Tram"\n  [2] heading "Tram"\n  [3] textbox "Email" (required)'


def test_malformed_html_converts_as_a_browser_would_read_it() -> None:
    html = """<div><h2>Register
<p>Fill in the form below
<form><label for=n>Name</label><input id=n required><br>
<label>Country <select name=c><option>France<option selected>Spain</select></label>
<ul><li>One<li>Two</ul>
</span></div></td>
<button type=submit>Send
<p>After the form"""
    assert html_to_tree(html) == (
        '[1] page "Page"\n'
        '  [2] heading "Register"\n'
        '  [3] text "Fill in the form below"\n'
        '  [4] form ""\n'
        '    [5] textbox "Name" (required)\n'
        '    [6] combobox "Country" value="Spain"\n'
        '      [7] option "France"\n'
        '      [8] option "Spain" (selected)\n'
        '    [9] list ""\n'
        '      [10] listitem "One"\n'
        '      [11] listitem "Two"\n'
        '  [12] button "Send"\n'
        '  [13] text "After the form"'
    )


@pytest.mark.parametrize(
    "text",
    ["", "   ", "<", "<<<>>>", "</div></p>", "<!--", "<![if x", "<!['=x\n", "&#99999999;", "<?xml x?>",
     "<script>alert(1)</script>", "<html><head><title>Only a title</title></head></html>",
     "The tram runs every ten minutes."],
)  # fmt: skip
def test_nothing_to_show_gives_an_empty_page(text: str) -> None:
    assert html_to_tree(text) == ""


def test_deep_nesting_stays_within_the_recursion_limit() -> None:
    """A model caught in a loop ("<div><div>...") must not crash the converter."""
    assert html_to_tree("<div>" * 5000 + "deep") == '[1] page "Page"\n  [2] text "deep"'
    tree = html_to_tree("<ul><li>" * 2000 + "leaf")
    assert well_formed(tree) and tree.splitlines()[-1].endswith('"leaf"')


def test_random_markup_never_raises_and_always_parses() -> None:
    pieces = [
        *("<div>", "</div>", "<p>", "</p>", "<li>", "<ul>", "</ul>", "<table>", "<tr>", "<td>", "</a>"),
        *("<a href=x>", "<button>", "<select>", "<option selected>", "<label>", "<input>", "<h2>"),
        *("text ", '"q" ', "<!--", "-->", "<![", "<script>", "</script>", "<br>", "<span>", "```html\n"),
        "</html>",
    ]
    rng = random.Random(7)
    for _ in range(300):
        tree = html_to_tree("".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))))
        if tree:
            well_formed(tree)


# -- telling HTML from the tree notation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "html"),
    [
        (SIGN_UP, True),
        ("<p>One paragraph</p>", True),
        ("```html\n<form><input></form>\n```", True),
        (SIGN_UP_TREE, False),
        ('[1] page "Tags"\n  [2] text "Use <b> for bold"\n  [3] link "Home"', False),
        ("The tram runs every ten minutes; a ticket costs < €3.", False),
        ("", False),
    ],
)
def test_looks_like_html(text: str, html: bool) -> None:
    assert looks_like_html(text) is html


def test_an_element_that_cannot_stand_in_head_ends_it() -> None:
    # the local model put its navigation inside <head>; a browser shows it, and so does the tree
    html = (
        '<html><head><title>The case</title><meta charset="UTF-8"><nav><a href="#">Home</a>'
        '<a href="#">About</a></nav></head><main><h1>Supporters</h1><p>They pointed to the list.'
    )
    assert html_to_tree(html).splitlines() == [
        '[1] page "The case"',
        '  [2] navigation ""',
        '    [3] link "Home"',
        '    [4] link "About"',
        '  [5] main ""',
        '    [6] heading "Supporters"',
        '    [7] text "They pointed to the list."',
    ]
