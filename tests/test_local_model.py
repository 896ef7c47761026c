"""The embedded llama.cpp engine running the real SmolLM2-135M weights: text, grammar-enforced JSON,
determinism, and its OpenAI-compatible HTTP port driven by OpenAIModel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time

import pytest

from agentinstruct.models import LocalModel, ModelError, ModelRequest, ModelResponse, OpenAIModel
from agentinstruct.models.weights import LOCAL_WEIGHTS

pytestmark = pytest.mark.local_model

BOOK = {
    "name": "book",
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "year": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["title", "year", "tags"],
        "additionalProperties": False,
    },
}


def ask(model, text: str, **options) -> ModelResponse:
    request = ModelRequest(messages=[{"role": "user", "content": text}], **options)
    return asyncio.run(model.complete(request))


def test_smollm2_weights_match_the_published_sha256(smollm2_path):
    digest = hashlib.sha256(smollm2_path.read_bytes()).hexdigest()
    assert digest == LOCAL_WEIGHTS["local:smollm2-135m"].sha256


def test_plain_request_gets_text_and_usage(local_smollm):
    response = ask(local_smollm, "Name one colour.", temperature=0.0, max_tokens=24, seed=1)
    assert response.text.strip()
    assert response.model == "local:smollm2-135m"
    assert response.finish_reason in ("stop", "length")
    assert 0 < response.usage.completion_tokens <= 24 and response.usage.prompt_tokens > 5
    assert local_smollm.describe() == {
        "name": "local:smollm2-135m",
        "backend": "xllamacpp",
        "weights_sha256": LOCAL_WEIGHTS["local:smollm2-135m"].sha256,
        "slots": 2,
        "threads": 1,
    }


def test_json_schema_is_enforced_by_grammar(local_smollm):
    options = {"temperature": 0.8, "max_tokens": 120, "seed": 3, "json_schema": BOOK}
    response = ask(local_smollm, "Describe a book as JSON.", **options)
    value = json.loads(response.text)
    assert set(value) == {"title", "year", "tags"}
    assert isinstance(value["title"], str) and isinstance(value["year"], int)
    assert isinstance(value["tags"], list) and len(value["tags"]) <= 3
    assert all(isinstance(tag, str) for tag in value["tags"])


def test_same_seed_at_temperature_zero_is_byte_identical(local_smollm):
    first = ask(local_smollm, "Write one sentence about rivers.", temperature=0.0, max_tokens=32, seed=11)
    second = ask(local_smollm, "Write one sentence about rivers.", temperature=0.0, max_tokens=32, seed=11)
    assert first.text == second.text and first.text


def test_parallel_requests_share_the_slots(local_smollm):
    async def both() -> list[ModelResponse]:
        prompts = [[{"role": "user", "content": f"Count to {n}."}] for n in (3, 5, 7)]
        requests = [ModelRequest(messages=m, temperature=0.0, max_tokens=16) for m in prompts]
        return await asyncio.gather(*(local_smollm.complete(request) for request in requests))

    responses = asyncio.run(both())
    assert len(responses) == 3 and all(response.text for response in responses)


def test_http_port_answers_an_openai_client(local_smollm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert local_smollm.base_url.startswith("http://127.0.0.1:") and local_smollm.base_url.endswith("/v1")
    remote = OpenAIModel("local:smollm2-135m", base_url=local_smollm.base_url, max_retries=0, timeout=60)
    over_http = ask(remote, "Name a fruit.", temperature=0.0, max_tokens=16, seed=2)
    in_process = ask(local_smollm, "Name a fruit.", temperature=0.0, max_tokens=16, seed=2)
    assert over_http.text == in_process.text and over_http.text
    assert over_http.usage.completion_tokens == in_process.usage.completion_tokens
    structured = ask(remote, "A book as JSON.", temperature=0.0, max_tokens=120, json_schema=BOOK)
    assert set(json.loads(structured.text)) == {"title", "year", "tags"}


def test_generation_leaves_the_event_loop_free_and_aclose_frees_the_port(smollm2_path, model_cache_dir):
    engine = LocalModel("local:smollm2-135m", slots=1, ctx_per_slot=512, threads=1, cache_dir=model_cache_dir)
    asyncio.run(engine.prepare())  # xllamacpp holds the GIL while loading, so loading itself stalls Python
    request = ModelRequest(messages=[{"role": "user", "content": "Tell me about owls."}], max_tokens=24)

    async def two_calls_while_ticking() -> tuple[int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.02)

        started = time.perf_counter()
        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await asyncio.gather(engine.complete(request), engine.complete(request))
        ticking.cancel()
        return ticks, time.perf_counter() - started

    ticks, elapsed = asyncio.run(two_calls_while_ticking())
    assert ticks >= 0.5 * elapsed / 0.02, f"event loop stalled: {ticks} ticks in {elapsed:.2f}s"
    port = int(engine.base_url.rsplit(":", 1)[1].split("/")[0])
    asyncio.run(engine.aclose())
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_engine_rejections_become_model_errors(local_smollm):
    with pytest.raises(ModelError, match="exceeds the available context") as too_long:
        ask(local_smollm, "word " * 3000, max_tokens=4)
    bad_schema = {"name": "bad", "schema": {"type": "object", "properties": {"a": {"type": "weird"}}}}
    with pytest.raises(ModelError, match="unrecognized type") as unusable:
        ask(local_smollm, "Hi.", max_tokens=4, json_schema=bad_schema)
    assert (too_long.value.status, unusable.value.status) == (400, 400)
    assert not too_long.value.retryable and not unusable.value.retryable
