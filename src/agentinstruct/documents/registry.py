"""Which reader handles which file: the suffix table, `reader_for`, and the known non-document suffixes.

The readers themselves live in `readers`, `markup_readers`, `tabular_readers` and `api_readers` (.json,
.yaml and .yml files are read only when they are OpenAPI/Swagger specs; others are reported unsupported);
walking inputs is in `sources`.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentinstruct.documents.api_readers import OpenApiReader
from agentinstruct.documents.markup_readers import HtmlReader, PdfReader
from agentinstruct.documents.readers import CodeReader, PlainTextReader, Reader
from agentinstruct.documents.tabular_readers import JsonlReader, ParquetReader

READERS: tuple[Reader, ...] = (
    PlainTextReader(),
    HtmlReader(),
    PdfReader(),
    CodeReader(),
    JsonlReader(),
    ParquetReader(),
    OpenApiReader(),
)
_READER_BY_SUFFIX = {suffix: reader for reader in READERS for suffix in reader.suffixes}

# Suffixes skipped silently during a directory walk or glob: clearly not documents.
NON_DOCUMENT_SUFFIXES = frozenset(
    # images, audio, video
    ".png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .heic .svg .eps .raw .cr2 .nef "
    ".mp3 .wav .flac .ogg .m4a .aac .mp4 .m4v .mov .avi .mkv .webm .wmv "
    # archives and compressed files
    ".zip .tar .gz .tgz .bz2 .xz .zst .7z .rar .lz4 .whl .egg .jar .war .deb .rpm .dmg .iso "
    # compiled code, libraries, executables
    ".pyc .pyo .pyd .so .dll .dylib .o .obj .a .lib .class .exe .bin .wasm .elc "
    # fonts, databases, model weights and array data
    ".ttf .otf .woff .woff2 .eot .db .sqlite .sqlite3 .pt .pth .ckpt .safetensors .gguf .onnx .pb "
    ".npy .npz .pkl .pickle .h5 .hdf5 .lock .DS_Store".lower().split()
)


def reader_for(path: str | os.PathLike[str]) -> Reader | None:
    """Return the reader for `path` by its suffix (case-insensitive), or None if unsupported."""
    return _READER_BY_SUFFIX.get(Path(path).suffix.lower())


def supported_suffixes() -> tuple[str, ...]:
    """All suffixes some reader handles, sorted."""
    return tuple(sorted(_READER_BY_SUFFIX))


def is_clearly_non_document(path: str | os.PathLike[str]) -> bool:
    """True for images, archives, binaries and similar files a directory walk skips silently."""
    return Path(path).suffix.lower() in NON_DOCUMENT_SUFFIXES
