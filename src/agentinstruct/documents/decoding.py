"""Turning files into text safely: size and permission checks, binary detection and decoding.

Text is decoded as UTF-8 (a UTF-8 BOM is stripped) or, only when a UTF-16 BOM is present, as UTF-16;
anything else is reported as an "encoding" failure rather than guessed. Newlines are normalised to
"\\n" (from "\\r\\n" and lone "\\r"), so every character offset elsewhere in the package — notably seed
spans — refers to the normalised text. Format-specific extraction (HTML, PDF, tables) lives in the readers.
"""

from __future__ import annotations

import codecs
import os
import stat

from agentinstruct.documents.records import DocumentFailure

BINARY_SCAN_BYTES = 8192
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def normalize_newlines(text: str) -> str:
    """Convert "\\r\\n" and lone "\\r" line endings to "\\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_regular_file(source: str) -> DocumentFailure | None:
    """Return a failure if `source` is missing, not stat-able or not a regular file, else None."""
    try:
        info = os.stat(source)
    except FileNotFoundError:
        return DocumentFailure(source, "not_found", f"{source} does not exist; check the path for typos.")
    except PermissionError:
        return permission_failure(source)
    except OSError as error:
        return DocumentFailure(
            source, "parse_error", f"could not inspect {source} ({error}); check the path."
        )
    if not stat.S_ISREG(info.st_mode):
        return DocumentFailure(
            source, "unsupported", f"{source} is not a regular file; pass a file or a directory instead."
        )
    return None


def permission_failure(source: str) -> DocumentFailure:
    """The failure for a file the current user may not read."""
    return DocumentFailure(
        source,
        "permission",
        f"{source} cannot be read by this user; fix its permissions (e.g. `chmod a+r`) or run as its owner.",
    )


def too_large_failure(source: str, size: int, max_bytes: int) -> DocumentFailure:
    """The failure for an input over the `max_bytes` limit."""
    return DocumentFailure(
        source,
        "too_large",
        f"{source} is {size:,} bytes, over the {max_bytes:,}-byte limit; raise it (max_file_bytes in the "
        "run config, max_bytes= in the library) or split the input into smaller files.",
    )


def read_file_bytes(source: str, max_bytes: int) -> bytes | DocumentFailure:
    """Read a whole regular file, checking its size with stat before reading anything."""
    failure = check_regular_file(source)
    if failure is not None:
        return failure
    size = os.stat(source).st_size
    if size > max_bytes:
        return too_large_failure(source, size, max_bytes)
    try:
        with open(source, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except PermissionError:
        return permission_failure(source)
    except OSError as error:
        return DocumentFailure(source, "parse_error", f"could not read {source} ({error}); check the file.")
    if len(raw) > max_bytes:
        return too_large_failure(source, len(raw), max_bytes)
    return raw


def empty_failure(source: str, what: str = "it contains no text") -> DocumentFailure:
    """The failure for an input with nothing to learn from."""
    return DocumentFailure(source, "empty", f"{source} was skipped because {what}; remove it or add content.")


def decode_text(raw: bytes, source: str) -> str | DocumentFailure:
    """Decode the bytes of a text or code file to newline-normalised text, or explain why not."""
    if not raw.strip():
        return empty_failure(source)
    if raw.startswith(_UTF16_BOMS):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as error:
            return _encoding_failure(source, error, "UTF-16 (it starts with a UTF-16 byte-order mark)")
        if "\x00" in text[:BINARY_SCAN_BYTES]:
            return _binary_failure(source)
    else:
        if b"\x00" in raw[:BINARY_SCAN_BYTES]:
            return _binary_failure(source)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            return _encoding_failure(source, error, "UTF-8")
    text = normalize_newlines(text)
    if not text.strip():
        return empty_failure(source, "it contains only whitespace")
    return text


def _binary_failure(source: str) -> DocumentFailure:
    return DocumentFailure(
        source,
        "binary",
        f"{source} contains NUL bytes, so it looks binary; pass text, code, HTML or PDF files instead.",
    )


def _encoding_failure(source: str, error: UnicodeDecodeError, expected: str) -> DocumentFailure:
    bad = error.object[error.start : error.start + 1].hex()
    return DocumentFailure(
        source,
        "encoding",
        f"{source} is not valid {expected} (byte 0x{bad} at offset {error.start}); convert it to UTF-8, "
        f"e.g. `iconv -f latin1 -t utf-8 {source} > fixed.txt`.",
    )
