"""Walking inputs — files, directories and glob patterns — into a stream of documents and seeds.

Everything here is a generator: inputs are expanded lazily, each file is read only when reached, and
tabular files stream row by row, so the corpus is never held in memory. Order is deterministic (inputs
in the order given; directory entries and glob matches sorted by name). A file reached twice (through
overlapping inputs) is read once. Per-format reading lives in the reader modules, splitting in `chunking`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator

from agentinstruct.documents.chunking import chunk_document
from agentinstruct.documents.decoding import permission_failure
from agentinstruct.documents.records import DEFAULT_MAX_BYTES, Document, DocumentFailure, Seed
from agentinstruct.documents.registry import is_clearly_non_document, reader_for, supported_suffixes

_GLOB_CHARACTERS = frozenset("*?[")
_SKIPPED_DIRECTORIES = frozenset({"__pycache__"})

# (path, named_explicitly) pairs, or a failure for an input that resolves to nothing.
_Candidate = tuple[str, bool]


def _is_skipped_name(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRECTORIES


def _walk_directory(directory: str) -> Iterator[_Candidate | DocumentFailure]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except PermissionError:
        yield permission_failure(directory)
        return
    for entry in entries:
        if _is_skipped_name(entry.name):
            continue
        path = os.path.join(directory, entry.name)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_directory(path)
        elif not entry.is_dir():  # symlinks to directories are not followed
            yield path, False


def _expand_glob(pattern: str) -> Iterator[_Candidate | DocumentFailure]:
    matches = sorted(glob.glob(pattern, recursive=True))
    matches = [path for path in matches if not _SKIPPED_DIRECTORIES.intersection(path.split(os.sep))]
    if not matches:
        yield DocumentFailure(
            pattern,
            "not_found",
            f"the pattern {pattern!r} matched no files; check it, or quote it for the shell.",
        )
    for path in matches:
        if os.path.isdir(path):
            yield from _walk_directory(path)
        else:
            yield path, False


def _expand_input(given: str | os.PathLike[str]) -> Iterator[_Candidate | DocumentFailure]:
    path = os.path.expanduser(os.fspath(given))
    if os.path.isdir(path):
        yield from _walk_directory(path)
    elif os.path.lexists(path):
        yield path, True
    elif _GLOB_CHARACTERS.intersection(path):
        yield from _expand_glob(path)
    else:
        yield DocumentFailure(path, "not_found", f"{path} does not exist; check the path for typos.")


def _unsupported(path: str) -> DocumentFailure:
    suffix = os.path.splitext(path)[1] or "(no suffix)"
    return DocumentFailure(
        path,
        "unsupported",
        f"{path} has an unsupported suffix {suffix}; convert it to one of: {' '.join(supported_suffixes())}.",
    )


def iter_documents(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str = "text",
) -> Iterator[Document | DocumentFailure]:
    """Stream documents (and failures) from files, directories and glob patterns, in a stable order."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    seen: set[str] = set()
    for given in inputs:
        for candidate in _expand_input(given):
            if isinstance(candidate, DocumentFailure):
                yield candidate
                continue
            path, explicit = candidate
            real_path = os.path.realpath(path)
            if real_path in seen:
                continue
            seen.add(real_path)
            reader = reader_for(path)
            if reader is not None:
                yield from reader.read(path, max_bytes=max_bytes, text_field=text_field)
            elif explicit or not is_clearly_non_document(path):
                yield _unsupported(path)


def iter_seeds(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    max_chars: int = 2000,
    min_chars: int = 200,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str = "text",
    max_documents: int | None = None,
) -> Iterator[Seed | DocumentFailure]:
    """Stream the seeds of every document in `inputs`, passing failures through.

    `max_documents` counts documents, not failures; reading stops once that many have been chunked.
    """
    if max_documents is not None and max_documents <= 0:
        return
    documents = 0
    for item in iter_documents(inputs, max_bytes=max_bytes, text_field=text_field):
        if isinstance(item, DocumentFailure):
            yield item
            continue
        yield from chunk_document(item, max_chars=max_chars, min_chars=min_chars)
        documents += 1
        if max_documents is not None and documents >= max_documents:
            return
