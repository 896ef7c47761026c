"""The embedded llama.cpp engine running the real SmolLM2-135M weights: text, grammar-enforced JSON,
determinism, and its OpenAI-compatible HTTP port driven by OpenAIModel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
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
    assert "\n" not in response.text  # written compact: layout whitespace costs a small model many tokens
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


STORY = ModelRequest(
    messages=[{"role": "user", "content": "Write a very long story about a lighthouse keeper."}],
    max_tokens=4000,  # about 40 s of generation on one thread: far longer than any bound below
    temperature=0.8,
    seed=5,
)


def test_a_cancelled_call_ends_its_generation_and_frees_the_slot(smollm2_path, model_cache_dir):
    engine = LocalModel(
        "local:smollm2-135m", slots=1, ctx_per_slot=4608, threads=1, cache_dir=model_cache_dir
    )
    short = ModelRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=8)

    async def cancel_then_ask() -> float:
        long_call = asyncio.create_task(engine.complete(STORY))
        await asyncio.sleep(1.0)
        long_call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long_call
        started = time.perf_counter()
        await engine.complete(short)  # the only slot must be free again, not busy finishing the story
        return time.perf_counter() - started

    asyncio.run(engine.prepare())
    try:
        waited = asyncio.run(cancel_then_ask())
    finally:
        asyncio.run(engine.aclose())
    assert waited < 15, f"the next call waited {waited:.1f}s: the cancelled generation kept its slot"


def test_close_abandons_the_generations_in_flight(smollm2_path, model_cache_dir):
    engine = LocalModel(
        "local:smollm2-135m", slots=2, ctx_per_slot=4608, threads=1, cache_dir=model_cache_dir
    )

    async def close_while_generating() -> tuple[list, float]:
        calls = [asyncio.create_task(engine.complete(STORY)) for _ in range(2)]
        await asyncio.sleep(1.0)
        started = time.perf_counter()
        await engine.aclose()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        return outcomes, time.perf_counter() - started

    asyncio.run(engine.prepare())
    outcomes, waited = asyncio.run(close_while_generating())
    assert waited < 15, f"close() waited {waited:.1f}s for generations it should have abandoned"
    assert all(isinstance(o, ModelError) and "abandoned" in str(o) for o in outcomes), outcomes


def test_streamed_chunks_assemble_into_one_reply():
    from agentinstruct.models.local import StreamedReply

    reply = StreamedReply()
    chunks = [
        {"choices": [{"delta": {"role": "assistant", "content": None}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "Let me "}}]},
        {"choices": [{"delta": {"content": "check."}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "add"}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "neg"}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 7}},
    ]
    for chunk in chunks:
        reply.add(chunk)
    [choice] = reply.result()["choices"]
    assert choice["finish_reason"] == "tool_calls" and reply.result()["usage"]["completion_tokens"] == 7
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
        {"id": "c2", "type": "function", "function": {"name": "neg", "arguments": ""}},
    ]
    reply.add({"error": {"code": 500, "message": "boom"}})
    assert reply.failed and reply.result() == {"error": {"code": 500, "message": "boom"}}


def test_a_reply_caught_in_a_loop_is_flagged_and_ends_as_repetition():
    from agentinstruct.models.local import JSON_LOOP_WINDOW, LOOP_WINDOW, StreamedReply

    # the local teacher repeated one paragraph until the token limit (a 5-minute reply on this CPU)
    paragraph = "The town was a place where the people had a deep respect for their land and neighbours. "
    looping = StreamedReply()
    for _ in range(12):
        for word in paragraph.split(" "):
            looping.add({"choices": [{"delta": {"content": word + " "}}]})
        if looping.looping:
            break
    assert looping.looping and len("".join(looping.content)) < 12 * len(paragraph)
    assert looping.result()["usage"] == {}  # the test's chunks carry no timings
    looping.add({"choices": [{"delta": {}, "finish_reason": "stop"}]})  # a last chunk does not undo it
    assert looping.result()["choices"][0]["finish_reason"] == "repetition"

    # a long reply that never repeats 160 characters word for word is left alone
    varied = StreamedReply()
    for n in range(400):
        varied.add(
            {"choices": [{"delta": {"content": f"Step {n}: multiply {n} by {n + 7} to get {n * (n + 7)}. "}}]}
        )
    assert not varied.looping and len("".join(varied.content)) > 20 * LOOP_WINDOW
    # structure that repeats in short pieces (HTML list items, JSON keys) is not a loop either
    items = StreamedReply()
    for n in range(200):
        items.add({"choices": [{"delta": {"content": f'<li><a href="/p/{n}">Product {n}</a></li>\n'}}]})
    assert not items.looping
    # JSON under a grammar is watched with a longer window: three API specs rightly share a parameter block
    block = '{\n  "name": "sku",\n  "type": "string",\n  "description": "The SKU.",\n  "required": true\n},\n'
    json_reply = StreamedReply(loop_window=JSON_LOOP_WINDOW)
    for n in range(12):
        json_reply.add({"choices": [{"delta": {"content": f'"api_{n}": [' + block * 2 + "],\n"}}]})
    assert not json_reply.looping
    free_text = StreamedReply()
    for n in range(12):
        free_text.add({"choices": [{"delta": {"content": f'"api_{n}": [' + block * 2 + "],\n"}}]})
    assert free_text.looping  # the same text as free text would count as a loop
    # but a string field that repeats the seed's sentences until the token limit is caught
    sentences = (
        "The lot has stood vacant since 2014. The council voted 7 to 4 to lease it for five years. " * 3
    )
    json_loop = StreamedReply(loop_window=JSON_LOOP_WINDOW)
    json_loop.add({"choices": [{"delta": {"content": '{"few_shot_task": "'}}]})
    for _ in range(40):
        json_loop.add({"choices": [{"delta": {"content": f"Input: {sentences}-> Output: {sentences}\\n"}}]})
        if json_loop.looping:
            break
    assert json_loop.looping and len("".join(json_loop.content)) < 10 * 2 * len(sentences)


def test_a_reply_cut_short_counts_its_tokens_from_the_engine_timings(local_smollm, monkeypatch):
    """A reply the loop guard ends gets no usage chunk; the tokens it used still reach the calls table."""
    from agentinstruct.models.local import StreamedReply

    original = StreamedReply.add

    def add_then_cut(self: StreamedReply, chunk: dict) -> None:
        original(self, chunk)
        if len("".join(self.content)) > 10:
            self.looping = True  # as the loop guard would: the engine stops before its usage chunk

    monkeypatch.setattr(StreamedReply, "add", add_then_cut)
    response = ask(local_smollm, "Count from one to fifty in words.", temperature=0.0, max_tokens=200, seed=1)
    assert response.finish_reason == "repetition" and len(response.text) < 80
    assert 0 < response.usage.completion_tokens < 40 and response.usage.prompt_tokens > 5


@pytest.mark.parametrize(
    "shape", ["table", "json_record", "key_values", "triples", "mapping", "terms", "scenario", "programming"]
)
def test_shaped_content_schemas_are_grammars_the_engine_enforces(local_smollm, shape):
    from agentinstruct.flows.shaped_content import shaped_output

    schema = shaped_output(shape).request_schema()
    # bounds of our own, so that the 135M model's rambling strings end within max_tokens
    schema["properties"]["reason"]["maxLength"] = 10
    content = schema["properties"]["content"]
    if shape == "mapping":
        content["properties"]["rule"]["maxLength"] = 40
        content = content["properties"]["examples"]
    if shape == "terms":
        content["properties"]["terms"]["items"]["maxLength"] = 24
    if shape in ("scenario", "programming"):
        for part in content["properties"].values():
            if part["type"] == "string":
                part["maxLength"] = 40
            elif part["items"]["type"] == "string":
                part["maxItems"], part["items"]["maxLength"] = 4, 24
            else:
                part["maxItems"], part["items"]["items"]["maxLength"] = 3, 24
    elif "items" in content:
        content["maxItems"] = 4
        content["items"]["items"]["maxLength"] = 24
    options = {
        "temperature": 0.8,
        "max_tokens": 400,  # the programming shape's five bounded parts take up to about 250 tokens
        # a free JSON record has no bound of ours: on 8 seeds the 135M model ended 6 records within
        # max_tokens written compact (2 of 8 laid out), seed 5 not among them
        "seed": 2 if shape == "json_record" else 5,
        "json_schema": {"name": "t", "schema": schema},
    }
    response = ask(
        local_smollm, "Alder Creek lighthouse opened in 1852 and had 3 keepers. Extract the facts.", **options
    )
    assert response.finish_reason == "stop", response.text[-200:]
    content = json.loads(response.text)["content"]
    if shape == "programming":
        assert set(content) == {"problem", "functions", "edge_cases", "examples", "reference_code"}
        assert len(content["examples"]) >= 2 and all(len(pair) == 2 for pair in content["examples"])
    elif shape == "scenario":
        assert set(content) == {"setting", "entities", "slots"} and isinstance(content["setting"], str)
        assert 3 <= len(content["entities"]) <= 4 and len(content["slots"]) >= 2
        assert all(re.fullmatch(r"[A-Z][A-Za-z]{1,11}", name) for name in content["entities"])
    elif shape == "terms":
        bounds = schema["properties"]["content"]["properties"]["terms"]
        assert set(content) == {"terms"} and bounds["minItems"] <= len(content["terms"]) <= bounds["maxItems"]
        assert all(isinstance(term, str) and 0 < len(term) <= 24 for term in content["terms"])
    elif shape == "mapping":
        assert set(content) == {"rule", "examples"} and isinstance(content["rule"], str)
        assert len(content["examples"]) >= 4 and all(len(pair) == 2 for pair in content["examples"])
    elif shape == "json_record":
        assert isinstance(content, dict)  # how many keys is checked in code, not by the grammar
    else:
        size = {"key_values": 2, "triples": 3}.get(shape)
        assert isinstance(content, list) and len(content) >= 3
        assert all(isinstance(item, list) and all(isinstance(x, str) for x in item) for item in content)
        assert all(len(item) == size for item in content) if size else all(len(item) >= 2 for item in content)


def test_the_arrangement_schema_is_a_grammar_the_engine_enforces(local_smollm):
    """analytical_reasoning's puzzles as data: nested rule objects and a boolean, held by the grammar."""
    import copy

    from agentinstruct.flows.arrangements import ARRANGEMENT_SCHEMA

    schema = copy.deepcopy(ARRANGEMENT_SCHEMA)
    parts = schema["properties"]
    parts["setup"]["maxLength"] = 40  # bounds of our own, so the 135M model's strings end in time
    for name in ("entities", "slots"):
        parts[name]["maxItems"], parts[name]["items"]["maxLength"] = 4, 12
    parts["rules"]["maxItems"] = 3
    for field in parts["rules"]["items"]["properties"].values():
        field["maxLength"] = 24
    options = {
        "temperature": 0.8,
        "max_tokens": 400,
        "seed": 5,
        "json_schema": {"name": "t", "schema": schema},
    }
    response = ask(local_smollm, "Write a puzzle: Ann, Ben and Cal stand in a line.", **options)
    assert response.finish_reason == "stop", response.text[-200:]
    puzzle = json.loads(response.text)
    assert set(puzzle) == {"setup", "entities", "slots", "one_each", "rules"}
    assert isinstance(puzzle["one_each"], bool) and 3 <= len(puzzle["entities"]) <= 4
    assert all(re.fullmatch(r"[A-Z][A-Za-z]{1,11}", name) for name in puzzle["entities"]), puzzle["entities"]
    assert len(puzzle["rules"]) == 3 and all(set(rule) == {"text", "check"} for rule in puzzle["rules"])


def test_discouraged_repeats_turn_on_the_dry_sampler_and_change_nothing_else():
    from agentinstruct.models.local import DRY_SAMPLING, _payload

    plain = ModelRequest(messages=[{"role": "user", "content": "Write a speech."}], seed=3)
    guarded = plain.model_copy(update={"discourage_repeats": True})
    assert _payload(guarded) == _payload(plain) | DRY_SAMPLING
    assert "discourage_repeats" not in plain.payload()  # unset, it leaves earlier cache keys as they were


def test_json_replies_are_asked_for_compact_and_unreadable_schemas_left_to_the_engine():
    from agentinstruct.models.local import _payload

    with_schema = ModelRequest(messages=[{"role": "user", "content": "A book."}], json_schema=BOOK)
    payload = _payload(with_schema)
    assert "response_format" not in payload and payload["grammar"].startswith("%llguidance")
    assert '"whitespace_flexible":false' in payload["grammar"] and '"title"' in payload["grammar"]
    # a property named "type" is a property, not a type; an unknown type goes to the engine, which names it
    named = {"type": "object", "properties": {"type": {"const": "array"}}}
    assert "grammar" in _payload(with_schema.model_copy(update={"json_schema": {"schema": named}}))
    weird = {"type": "object", "properties": {"a": {"type": "weird"}}}
    fallback = _payload(with_schema.model_copy(update={"json_schema": {"name": "w", "schema": weird}}))
    assert "grammar" not in fallback and fallback["response_format"]["json_schema"]["schema"] == weird


def test_the_engine_takes_the_dry_sampler(local_smollm):
    """On the real engine: a speech that loops without DRY (seed 1, as measured) is asked again with it."""
    speech = "Write a long speech praising the lighthouse at Carrick Point."
    options = {"temperature": 0.7, "max_tokens": 700, "seed": 1}
    assert ask(local_smollm, speech, **options).finish_reason == "repetition"
    assert ask(local_smollm, speech, **options, discourage_repeats=True).finish_reason in ("stop", "length")


def test_a_streamed_reply_the_chat_parser_rejects_is_kept_as_text():
    # the engine streamed a whole structured web answer, then ended it with this error, three times over
    # under a fixed seed (run s12b); the text is the model's reply, and the agent judges it
    from agentinstruct.models.local import StreamedReply

    rejected = {
        "code": 500,
        "message": "The model produced output that does not match the expected peg-native format",
    }
    chunks = [
        {"choices": [{"delta": {"content": '{"steps": [], '}}]},
        {"choices": [{"delta": {"content": '"final": {"reason": "r", "answer": "a"}}'}}]},
        {"error": rejected},
    ]
    reply = StreamedReply(keep_unparsed=True)
    for chunk in chunks:
        reply.add(chunk)
    [choice] = reply.result()["choices"]
    assert choice["message"]["content"] == '{"steps": [], "final": {"reason": "r", "answer": "a"}}'
    # other errors, a request with tools (whose calls the parser reads) and an empty reply stay errors
    for keep, stream in (
        (False, chunks),
        (True, [chunks[0], {"error": {"code": 500, "message": "boom"}}]),
        (True, [chunks[2]]),
    ):
        reply = StreamedReply(keep_unparsed=keep)
        for chunk in stream:
            reply.add(chunk)
        assert "error" in reply.result()


def test_the_web_answer_patterns_hold_on_the_engine(local_smollm):
    """llama.cpp's grammar reads a pattern over the JSON text: with "[^\\n]" alone, the model closed the
    string with a quote of its own and went on with keys the schema forbids, or wrote the escape "\\n"."""
    from agentinstruct.flows.web_answers import ANY_LINE, ONE_LINE

    for pattern in (ONE_LINE, ANY_LINE):
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "string", "pattern": pattern}},
            "required": ["answer"],
            "additionalProperties": False,
        }
        for seed in (1, 2, 3):
            response = ask(
                local_smollm,
                'Reply with exactly this JSON: {"answer": "The sea is\\nwide.", "label": "sea", "n": [1]}',
                temperature=0.9,
                max_tokens=200,
                seed=seed,
                json_schema={"name": "t", "schema": schema},
            )
            reply = json.loads(response.text)
            assert set(reply) == {"answer"} and re.fullmatch(pattern, reply["answer"]), response.text
