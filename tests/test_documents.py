"""Tests for document ingestion: readers, failures, input walking and chunking into seeds."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pypdf
import pytest

import agentinstruct
from agentinstruct.documents import (
    CodeReader,
    Document,
    DocumentFailure,
    HtmlReader,
    JsonlReader,
    ParquetReader,
    PdfReader,
    PlainTextReader,
    Reader,
    Seed,
    chunk_document,
    iter_documents,
    iter_seeds,
    reader_for,
    supported_suffixes,
)

EXAMPLE_SEEDS = Path(__file__).resolve().parents[1] / "examples" / "seeds"
PROSE = (
    "Rivers carry sediment downstream. When the current slows, the sediment settles and builds a delta. "
    "Farmers have relied on these deltas for thousands of years because the soil is rich."
)


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _read(*inputs: object, **options: object) -> list[Document | DocumentFailure]:
    return list(iter_documents([str(item) for item in inputs], **options))


def _doc(text: str, kind: str = "text", language: str | None = "markdown") -> Document:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Document(id=digest[:16], source="memory", sha256=digest, text=text, kind=kind, language=language)


def _pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page, xref offsets computed."""
    kids = " ".join(f"{4 + 2 * index} 0 R" for index in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, line in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * index} 0 R >>".encode()
        )
        stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def _assert_failure_then_good(items: list, reason: str, good_text: str = PROSE) -> DocumentFailure:
    """The first item is a failure with `reason`; the next is the good document that followed it."""
    assert len(items) == 2, items
    failure, document = items
    assert isinstance(failure, DocumentFailure) and failure.reason == reason, failure
    assert failure.detail.endswith(".") and len(failure.detail) > 20
    assert isinstance(document, Document) and document.text == good_text
    return failure


# --- readers -----------------------------------------------------------------------------------------


def test_text_files_are_read_with_their_language(tmp_path):
    _write(tmp_path / "a.txt", PROSE)
    _write(tmp_path / "b.md", "# Title\n\n" + PROSE)
    _write(tmp_path / "c.rst", "Title\n=====\n\n" + PROSE)
    _write(tmp_path / "d.markdown", PROSE)
    docs = _read(tmp_path)
    assert [(Path(d.source).name, d.kind, d.language) for d in docs] == [
        ("a.txt", "text", "plain"),
        ("b.md", "text", "markdown"),
        ("c.rst", "text", "rst"),
        ("d.markdown", "text", "markdown"),
    ]
    assert docs[0].text == PROSE and docs[0].source == str(tmp_path / "a.txt")


def test_ids_are_content_hashes_and_sha256_covers_raw_bytes(tmp_path):
    raw = b"\xef\xbb\xbfline one\r\nline two\rline three\n"
    first = _write(tmp_path / "one.txt", raw)
    second = _write(tmp_path / "two.txt", "line one\nline two\nline three\n")
    doc_one, doc_two = _read(first, second)
    assert doc_one.text == "line one\nline two\nline three\n"
    assert doc_one.id == doc_two.id == hashlib.sha256(doc_one.text.encode()).hexdigest()[:16]
    assert doc_one.sha256 == hashlib.sha256(raw).hexdigest()
    assert doc_one.sha256 != doc_two.sha256
    assert _read(first) == [doc_one]


def test_utf16_with_bom_is_decoded(tmp_path):
    path = _write(tmp_path / "wide.txt", "\ufeffcafé au lait\r\n".encode("utf-16-le"))
    (document,) = _read(path)
    assert document.text == "café au lait\n"


def test_code_files_get_kind_code_and_language(tmp_path):
    for name in ("main.py", "app.js", "lib.rs", "server.go", "Query.SQL"):
        _write(tmp_path / name, "x = 1\n")
    docs = _read(tmp_path)
    assert {(Path(d.source).name, d.kind, d.language) for d in docs} == {
        ("main.py", "code", "python"),
        ("app.js", "code", "javascript"),
        ("lib.rs", "code", "rust"),
        ("server.go", "code", "go"),
        ("Query.SQL", "code", "sql"),
    }


def test_html_keeps_visible_blocks_and_drops_script_style_nav(tmp_path):
    html = """<html><head><title>T</title><style>p {color: red}</style></head><body>
    <nav><a href="/">Home</a> | <a href="/about">About</a></nav>
    <script>var secret = "do not keep";</script>
    <h1>Main   title</h1><p>First <b>bold</b>
    paragraph.</p><div>Second block<br>with a break</div>
    <ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>
    <!-- a comment --></body></html>"""
    (document,) = _read(_write(tmp_path / "page.html", html))
    assert document.language == "html" and document.kind == "text"
    assert document.text == (
        "# Main title\n\nFirst bold paragraph.\n\nSecond block\nwith a break\n\none\n\ntwo\n\na b"
    )
    for dropped in ("secret", "color", "Home", "comment"):
        assert dropped not in document.text


def test_pdf_text_comes_back_page_by_page(tmp_path):
    path = _write(tmp_path / "report.pdf", _pdf_bytes(["Tides follow the moon.", "Second page text."]))
    (document,) = _read(path)
    assert document.language == "pdf"
    assert document.text == "Tides follow the moon.\n\nSecond page text."
    assert document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_pdf_with_empty_user_password_is_read_but_locked_or_corrupt_pdf_fails(tmp_path):
    def encrypted(user_password: str) -> bytes:
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(_pdf_bytes(["Hidden words."]))))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()

    open_pdf = _write(tmp_path / "open.pdf", encrypted(""))
    locked = _write(tmp_path / "locked.pdf", encrypted("secret"))
    corrupt = _write(tmp_path / "corrupt.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    good = _write(tmp_path / "z.txt", PROSE)
    assert _read(open_pdf)[0].text == "Hidden words."
    assert "password" in _assert_failure_then_good(_read(locked, good), "parse_error").detail
    _assert_failure_then_good(_read(corrupt, good), "parse_error")


def test_pdf_without_text_layer_is_empty(tmp_path):
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = _write(tmp_path / "scan.pdf", buffer.getvalue())
    _assert_failure_then_good(_read(path, _write(tmp_path / "z.txt", PROSE)), "empty")


def test_jsonl_rows_become_documents_and_bad_rows_fail_alone(tmp_path):
    lines = [
        json.dumps({"text": "First row text.", "id": 1}),
        "{not json",
        json.dumps({"body": "no text field"}),
        "",
        json.dumps({"text": 42}),
        json.dumps({"text": "   "}),
        json.dumps(["a list"]),
        json.dumps({"text": "Last row\r\ntext."}),
    ]
    path = _write(tmp_path / "rows.jsonl", "\n".join(lines) + "\n")
    items = _read(path)
    summary = [(item.source.rsplit("#", 1)[1], getattr(item, "reason", "ok")) for item in items]
    assert summary == [
        ("row=0", "ok"),
        ("row=1", "parse_error"),
        ("row=2", "missing_field"),
        ("row=4", "missing_field"),
        ("row=5", "empty"),
        ("row=6", "parse_error"),
        ("row=7", "ok"),
    ]
    assert items[0].text == "First row text." and items[0].source == f"{path}#row=0"
    assert items[0].sha256 == hashlib.sha256(b"First row text.").hexdigest()
    assert items[-1].text == "Last row\ntext."
    assert "'body'" in items[2].detail and "--text-field" in items[2].detail


def test_jsonl_text_field_option_and_row_size_limit(tmp_path):
    path = _write(tmp_path / "rows.ndjson", '{"body": "short"}\n{"body": "' + "x" * 50 + '"}\n')
    items = _read(path, text_field="body", max_bytes=20)
    assert [item.reason if isinstance(item, DocumentFailure) else item.text for item in items] == [
        "short",
        "too_large",
    ]


def test_parquet_rows_stream_across_batches(tmp_path):
    texts = [f"Row number {index}." for index in range(600)]
    texts[300] = None
    table = pa.table({"id": list(range(600)), "content": texts})
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path, row_group_size=128)
    items = _read(path, text_field="content")
    assert len(items) == 600
    assert items[0].text == "Row number 0." and items[0].source == f"{path}#row=0"
    assert items[599].text == "Row number 599." and items[599].source == f"{path}#row=599"
    assert isinstance(items[300], DocumentFailure) and items[300].reason == "missing_field"


def test_parquet_missing_or_non_string_column_names_the_columns(tmp_path):
    path = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"body": ["A text."], "score": [3]}), path)
    good = _write(tmp_path / "z.txt", PROSE)
    failure = _assert_failure_then_good(_read(path, good), "missing_field")
    assert "'body'" in failure.detail and "'score'" in failure.detail and "--text-field" in failure.detail
    _assert_failure_then_good(_read(path, good, text_field="score"), "missing_field")
    assert _read(path, text_field="body")[0].text == "A text."


def test_corrupt_parquet_is_a_parse_error(tmp_path):
    path = _write(tmp_path / "broken.parquet", b"PAR1 definitely not parquet")
    _assert_failure_then_good(_read(path, _write(tmp_path / "z.txt", PROSE)), "parse_error")


def test_reader_lookup_by_suffix():
    assert isinstance(reader_for("a/b.MD"), PlainTextReader)
    assert isinstance(reader_for("page.htm"), HtmlReader)
    assert isinstance(reader_for("paper.pdf"), PdfReader)
    assert isinstance(reader_for("x.tsx"), CodeReader)
    assert isinstance(reader_for("rows.jsonl"), JsonlReader)
    assert isinstance(reader_for("rows.parquet"), ParquetReader)
    assert reader_for("photo.png") is None and reader_for("Makefile") is None
    for reader in (
        PlainTextReader(),
        HtmlReader(),
        PdfReader(),
        CodeReader(),
        JsonlReader(),
        ParquetReader(),
    ):
        assert isinstance(reader, Reader) and reader.kind in {"text", "code"}
        assert set(reader.suffixes) <= set(supported_suffixes())


# --- inputs: directories, globs, failures ------------------------------------------------------------


def test_directories_are_walked_sorted_skipping_hidden_cache_and_binaries(tmp_path):
    _write(tmp_path / "b.txt", PROSE)
    _write(tmp_path / "a" / "z.md", PROSE)
    _write(tmp_path / "a" / "deep" / "y.py", "print(1)\n")
    _write(tmp_path / ".hidden.txt", PROSE)
    _write(tmp_path / ".git" / "notes.txt", PROSE)
    _write(tmp_path / "__pycache__" / "cached.txt", PROSE)
    _write(tmp_path / "logo.png", b"\x89PNG\r\n")
    _write(tmp_path / "bundle.zip", b"PK\x03\x04")
    _write(tmp_path / "notes.docx", b"PK\x03\x04")
    items = _read(tmp_path)
    names = [Path(item.source).relative_to(tmp_path).as_posix() for item in items]
    assert names == ["a/deep/y.py", "a/z.md", "b.txt", "notes.docx"]
    assert items[-1].reason == "unsupported" and ".md" in items[-1].detail


def test_globs_expand_recursively_and_unmatched_inputs_are_not_found(tmp_path):
    _write(tmp_path / "one.md", PROSE)
    _write(tmp_path / "sub" / "two.md", PROSE + " Two.")
    _write(tmp_path / "sub" / "three.txt", PROSE)
    items = _read(f"{tmp_path}/**/*.md", f"{tmp_path}/nothing*.md", tmp_path / "missing.txt")
    assert [Path(item.source).name for item in items] == ["one.md", "two.md", "nothing*.md", "missing.txt"]
    assert [getattr(item, "reason", "ok") for item in items] == ["ok", "ok", "not_found", "not_found"]


def test_overlapping_inputs_read_each_file_once_and_inputs_are_lazy(tmp_path):
    first = _write(tmp_path / "first.txt", PROSE)
    later = tmp_path / "later.txt"
    stream = iter_documents([str(first), str(tmp_path), str(later)])
    assert next(stream).source == str(first)
    _write(later, PROSE + " Later.")  # created after iteration started: only read when reached
    rest = list(stream)
    assert [item.source for item in rest] == [str(later)]
    assert rest[0].text.endswith("Later.")


def test_binary_file_fails_and_iteration_continues(tmp_path):
    bad = _write(tmp_path / "data.txt", b"abc\x00\x01\x02def")
    _assert_failure_then_good(_read(bad, _write(tmp_path / "z.txt", PROSE)), "binary")


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n"])
def test_empty_file_fails_and_iteration_continues(tmp_path, content):
    bad = _write(tmp_path / "empty.md", content)
    _assert_failure_then_good(_read(bad, _write(tmp_path / "z.txt", PROSE)), "empty")


def test_latin1_file_fails_with_conversion_hint(tmp_path):
    bad = _write(tmp_path / "menu.txt", b"caf\xe9 au lait")
    failure = _assert_failure_then_good(_read(bad, _write(tmp_path / "z.txt", PROSE)), "encoding")
    assert "iconv -f latin1 -t utf-8" in failure.detail and "0xe9" in failure.detail


def test_too_large_file_is_rejected_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.truncate(50_000_000_000)  # sparse: reading it would take minutes, stat takes microseconds
    good = _write(tmp_path / "z.txt", PROSE)
    failure = _assert_failure_then_good(_read(big, good), "too_large")
    assert "20,000,000" in failure.detail and "max_bytes" in failure.detail
    _assert_failure_then_good(
        _read(_write(tmp_path / "a.txt", PROSE + "!"), good, max_bytes=len(PROSE)), "too_large"
    )


def test_unsupported_explicit_file_lists_supported_suffixes(tmp_path):
    for name in ("photo.png", "Makefile", "slides.pptx"):
        bad = _write(tmp_path / name, b"stuff")
        failure = _assert_failure_then_good(_read(bad, _write(tmp_path / "z.txt", PROSE)), "unsupported")
        assert ".pdf" in failure.detail and ".parquet" in failure.detail


def test_nonexistent_path_fails_and_iteration_continues(tmp_path):
    failure = _assert_failure_then_good(
        _read(tmp_path / "nope.txt", _write(tmp_path / "z.txt", PROSE)), "not_found"
    )
    assert failure.source == str(tmp_path / "nope.txt")


# The interpreter may live where "nobody" cannot exec it (e.g. under /root), so the child starts as root,
# imports everything and warms up on a readable file, then drops to uid/gid 65534 before the real read.
_PERMISSION_PROBE = (
    "import json, os, sys\n"
    "from agentinstruct.documents import iter_documents\n"
    "list(iter_documents([sys.argv[1]]))\n"
    "os.setgroups([])\n"
    "os.setgid(65534)\n"
    "os.setuid(65534)\n"
    "items = iter_documents(sys.argv[2:])\n"
    "print(json.dumps([[item.source, getattr(item, 'reason', 'ok')] for item in items]))\n"
)


def test_unreadable_file_and_directory_fail_with_permission():
    with tempfile.TemporaryDirectory() as shared_name:
        shared = Path(shared_name)
        os.chmod(shared, 0o755)
        secret = _write(shared / "secret.txt", PROSE)
        good = _write(shared / "good.txt", PROSE)
        locked = shared / "locked"
        _write(locked / "inside.txt", PROSE)
        os.chmod(secret, 0o600 if os.geteuid() == 0 else 0)
        os.chmod(good, 0o644)
        os.chmod(locked, 0o700 if os.geteuid() == 0 else 0)
        try:
            if os.geteuid() == 0:  # root reads anything, so read as "nobody" in a child process
                package_root = str(Path(agentinstruct.__file__).resolve().parents[1])
                completed = subprocess.run(
                    [sys.executable, "-c", _PERMISSION_PROBE, str(good), str(secret), str(shared)],
                    cwd=shared,
                    env={"PYTHONPATH": package_root, "PATH": os.environ.get("PATH", "")},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=True,
                )
                results = [tuple(pair) for pair in json.loads(completed.stdout)]
            else:
                results = [(item.source, getattr(item, "reason", "ok")) for item in _read(secret, shared)]
        finally:
            os.chmod(locked, 0o700)
    assert results == [(str(secret), "permission"), (str(good), "ok"), (str(locked), "permission")]


# --- chunking ----------------------------------------------------------------------------------------


def _random_text(rng: random.Random, code: bool) -> str:
    words = ["alpha", "beta.", "gamma!", "delta?", "(epsilon)", "zeta,", "é", "x" * rng.randint(1, 400)]
    pieces = []
    for _ in range(rng.randint(1, 150)):
        roll = rng.random()
        if roll < 0.08:
            pieces.append("\n\n" + " " * rng.randint(0, 3))
        elif roll < 0.12:
            pieces.append(f"\n{'#' * rng.randint(1, 3)} Heading {rng.randint(0, 99)}\n")
        elif roll < 0.14:
            pieces.append("\nSection\n=======\n\n")
        elif roll < 0.18 and code:
            pieces.append(f"\n\ndef f{rng.randint(0, 99)}(x):\n    return x\n")
        elif roll < 0.24:
            pieces.append(rng.choice(["\n", "\t", "   ", "\n    "]))
        else:
            pieces.append(rng.choice(words) + " ")
    return "".join(pieces)


def _assert_valid_chunks(document: Document, seeds: list[Seed], max_chars: int) -> None:
    text, covered, previous_end = document.text, [False] * len(document.text), 0
    for seed in seeds:
        start, end = seed.span
        assert seed.text == text[start:end] and seed.document is document
        assert seed.id == f"{document.id}:{start}-{end}" and seed.kind == document.kind
        assert previous_end <= start < end and end - start <= max_chars * 1.5
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered[start:end] = [True] * (end - start)
        previous_end = end
    missing = [index for index, char in enumerate(text) if not char.isspace() and not covered[index]]
    assert missing == []


def test_chunk_spans_are_exact_ordered_and_cover_all_content():
    rng = random.Random(20240611)
    for case in range(400):
        kind = "code" if case % 3 == 0 else "text"
        max_chars = rng.choice([8, 40, 120, 500, 2000])
        min_chars = rng.choice([0, max_chars // 10, max_chars // 2, max_chars])
        document = _doc(_random_text(rng, kind == "code"), kind=kind)
        seeds = chunk_document(document, max_chars=max_chars, min_chars=min_chars)
        _assert_valid_chunks(document, seeds, max_chars)
        assert seeds == chunk_document(document, max_chars=max_chars, min_chars=min_chars)


def test_paragraphs_pack_greedily_up_to_max_chars():
    paragraphs = [f"Paragraph {index} " + "word " * 30 for index in range(10)]
    document = _doc("\n\n".join(p.strip() for p in paragraphs))
    seeds = chunk_document(document, max_chars=600, min_chars=100)
    assert len(seeds) == 4
    assert [seed.text.count("\n\n") for seed in seeds] == [2, 2, 2, 0]
    assert all(seed.text.startswith("Paragraph") and len(seed.text) <= 600 for seed in seeds)


def test_headings_start_new_chunks_once_min_chars_reached():
    body = "Some sentence about the topic. " * 8
    markdown = f"# Intro\n\n{body}\n\n## Methods\n{body}\n\n## Tiny\n\nshort.\n\n## Results\n\n{body}"
    seeds = chunk_document(_doc(markdown), max_chars=2000, min_chars=200)
    # "## Results" does not start a chunk: the "## Tiny" chunk before it is still under min_chars.
    assert [seed.text.split("\n")[0] for seed in seeds] == ["# Intro", "## Methods", "## Tiny"]
    assert "## Results" in seeds[2].text
    rst = f"Intro\n=====\n\n{body}\n\nMethods\n-------\n\n{body}"
    assert [s.text.split("\n")[0] for s in chunk_document(_doc(rst, language="rst"), min_chars=100)] == [
        "Intro",
        "Methods",
    ]


def test_heading_is_not_left_at_the_end_of_a_full_chunk():
    text = "A" * 150 + " end.\n\n## Next section\n\n" + "B" * 150 + " end."
    seeds = chunk_document(_doc(text), max_chars=200, min_chars=0)
    assert [seed.text[:2] for seed in seeds] == ["AA", "##"]


def test_html_headings_start_chunks_through_the_reader(tmp_path):
    body = "<p>" + "A sentence inside the article body. " * 10 + "</p>"
    html = f"<h1>First</h1>{body}<h2>Second</h2>{body}"
    (document,) = _read(_write(tmp_path / "page.html", html))
    assert [seed.text.split("\n")[0] for seed in chunk_document(document, min_chars=100)] == [
        "# First",
        "## Second",
    ]


def test_code_is_split_at_top_level_definitions():
    functions = [
        f'@decorate\ndef function_{index}(value: int) -> int:\n    """Doc {index}."""\n\n'
        + "".join(f"    value += {step}\n" for step in range(12))
        + "    return value\n"
        for index in range(4)
    ]
    source = "import os\nimport sys\n\n\n" + "\n\n".join(functions) + "\n\nclass Tail:\n    pass\n"
    seeds = chunk_document(_doc(source, kind="code", language="python"), max_chars=800, min_chars=150)
    assert [seed.text.split("\n")[0] for seed in seeds] == [
        "import os",
        "@decorate",
        "@decorate",
        "@decorate",
    ]
    assert "def function_0" in seeds[0].text and "class Tail" in seeds[-1].text


def test_long_paragraph_splits_at_sentences_then_hard_splits():
    sentences = " ".join(f"Sentence number {index} ends here." for index in range(60))
    seeds = chunk_document(_doc(sentences), max_chars=300, min_chars=0)
    assert len(seeds) > 5 and all(seed.text.endswith("here.") for seed in seeds)
    unbroken = "z" * 1050
    seeds = chunk_document(_doc(unbroken), max_chars=500, min_chars=0)
    assert [len(seed.text) for seed in seeds] == [500, 500, 50]
    assert "".join(seed.text for seed in seeds) == unbroken


def test_short_trailing_chunk_merges_only_within_the_limit():
    head = "An opening paragraph that fills most of one chunk." * 3 + "!" * 40  # 190 characters
    tail = "A closing remark that is short."
    merged = chunk_document(_doc(f"{head}\n\n{tail * 2}"), max_chars=200, min_chars=150)
    assert [seed.text for seed in merged] == [f"{head}\n\n{tail * 2}"]  # 254 <= 1.5 * 200
    kept = chunk_document(_doc(f"{head}\n\n{tail * 4}"), max_chars=200, min_chars=150)
    assert [seed.text for seed in kept] == [head, tail * 4]  # 316 > 1.5 * 200


def test_chunk_arguments_are_validated():
    with pytest.raises(ValueError, match="max_chars"):
        chunk_document(_doc("text"), max_chars=0)
    with pytest.raises(ValueError, match="min_chars"):
        chunk_document(_doc("text"), max_chars=10, min_chars=20)


def test_iter_seeds_streams_and_counts_documents_not_failures(tmp_path):
    _write(tmp_path / "a.txt", PROSE)
    _write(tmp_path / "b.bin.txt", b"\x00\x00")
    _write(tmp_path / "c.txt", PROSE + " C.")
    _write(tmp_path / "d.txt", PROSE + " D.")
    items = list(iter_seeds([str(tmp_path)], max_documents=2))
    assert [type(item).__name__ for item in items] == ["Seed", "DocumentFailure", "Seed"]
    assert items[2].text.endswith(" C.")
    assert len(list(iter_seeds([str(tmp_path)]))) == 4
    assert list(iter_seeds([str(tmp_path)], max_documents=0)) == []


def test_failure_reasons_are_checked():
    with pytest.raises(ValueError, match="unknown failure reason"):
        DocumentFailure("x", "oops", "detail")


# --- example seeds -----------------------------------------------------------------------------------


def test_example_seeds_are_readable_documents_of_the_right_size():
    items = _read(EXAMPLE_SEEDS)
    assert all(isinstance(item, Document) for item in items), items
    by_name = {Path(item.source).name: item for item in items}
    assert len(by_name) >= 5
    for name, document in by_name.items():
        assert 1500 <= len((EXAMPLE_SEEDS / name).read_text(encoding="utf-8")) <= 4000, name
        _assert_valid_chunks(document, chunk_document(document), 2000)
    assert by_name["inventory.py"].kind == "code"
    garden = by_name["community_garden_meeting.html"].text
    assert garden.startswith("# Fenwick council backs") and "analyticsQueue" not in garden
    assert "Local news" not in garden
