"""Document ingestion: read files, directories, globs and tables into `Document`s, then `Seed` chunks.

Documents have a kind: "text" (prose, markup, table rows), "code" (source files) or "api" (OpenAPI/Swagger
specs rendered as text); skills name the kinds they take in `seed_kinds`.

This package only reads and splits text; generating instructions from seeds lives elsewhere.
"""

from agentinstruct.documents.api_readers import OpenApiReader
from agentinstruct.documents.chunking import chunk_document
from agentinstruct.documents.markup_readers import HtmlReader, PdfReader
from agentinstruct.documents.readers import CodeReader, PlainTextReader, Reader
from agentinstruct.documents.records import DEFAULT_MAX_BYTES, Document, DocumentFailure, Seed
from agentinstruct.documents.registry import reader_for, supported_suffixes
from agentinstruct.documents.sources import iter_documents, iter_seeds
from agentinstruct.documents.tabular_readers import JsonlReader, ParquetReader

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CodeReader",
    "Document",
    "DocumentFailure",
    "HtmlReader",
    "JsonlReader",
    "OpenApiReader",
    "ParquetReader",
    "PdfReader",
    "PlainTextReader",
    "Reader",
    "Seed",
    "chunk_document",
    "iter_documents",
    "iter_seeds",
    "reader_for",
    "supported_suffixes",
]
