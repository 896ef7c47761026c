"""Endpoint control at the models layer: retries that honour Retry-After, the adaptive (AIMD) limiter, and
balancing over several endpoints, against the fault-injecting OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import time
from pathlib import Path

import pytest

from agentinstruct.models import (
    AdaptiveLimiter,
    EndpointPoolModel,
    ModelError,
    ModelRequest,
    ModelResponse,
    OpenAIModel,
    ScriptedModel,
    create_model,
    split_base_urls,
)
from agentinstruct.models.openai_model import parse_retry_after
from agentinstruct.models.stored import StoredModel
from agentinstruct.store import RunStore
from agentinstruct.testing import FAULTS, FaultPlan, OpenAIServer, ServerReply

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def clean_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)


def request(text: str = "hi") -> ModelRequest:
    return ModelRequest(messages=[{"role": "user", "content": text}])


def stored(server: OpenAIServer, *, timeout: float = 5.0, **options) -> StoredModel:
    backend = OpenAIModel("test-model", base_url=server.base_url, timeout=timeout, max_retries=2)
    return StoredModel(backend, None, **{"backoff_s": 0.01, **options})


async def complete_all(
    model: StoredModel, requests: list[ModelRequest]
) -> list[ModelResponse | BaseException]:
    try:
        return await asyncio.gather(*(model.complete(r) for r in requests), return_exceptions=True)
    finally:
        await model.aclose()


def run_one(model: StoredModel, text: str = "hi") -> ModelResponse:
    return asyncio.run(complete_all(model, [request(text)]))[0]  # type: ignore[return-value]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- retries through the middleware ---------------------------------------------------------------------


@pytest.mark.timeout(15)
def test_retry_after_is_waited_out_then_the_call_succeeds():
    with OpenAIServer(faults=FaultPlan(schedule=["rate_limit"], retry_after_s=0.3)) as server:
        model = stored(server)
        response = run_one(model)
    assert isinstance(response, ModelResponse) and response.text == "ok from test server"
    assert server.request_count == 2
    assert server.arrivals[1] - server.arrivals[0] >= 0.3
    assert (model.stats.retries, model.stats.rate_limited, model.stats.failed) == (1, 1, 0)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("fault", ["server_error", "unavailable", "drop", "malformed"])
def test_transient_faults_are_retried(fault):
    with OpenAIServer(faults=FaultPlan(schedule=[fault], retry_after_s=0.05)) as server:
        model = stored(server)
        response = run_one(model)
    assert isinstance(response, ModelResponse) and response.finish_reason == "stop"
    assert server.fault_log == [fault, None]
    assert model.stats.retries == 1 and model.consecutive_failures == 0


@pytest.mark.timeout(15)
def test_the_sdk_does_not_retry_under_the_middleware():
    faults = FaultPlan(schedule=["server_error"] * 3)
    with OpenAIServer(faults=faults) as server:
        model = stored(server, max_attempts=1)  # the backend asked for 2 retries; the middleware owns them
        error = run_one(model)
    assert isinstance(error, ModelError) and error.status == 500
    assert "gave up" not in str(error)  # one attempt: nothing to add
    assert server.request_count == 1
    assert model.max_attempts == 1 and StoredModel(ScriptedModel(), None).max_attempts == 3


def test_attempts_default_to_the_backends_max_retries():
    backend = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", max_retries=4)
    assert StoredModel(backend, None).max_attempts == 5


@pytest.mark.timeout(20)
def test_a_hang_times_out_is_retried_and_fails_cleanly():
    with OpenAIServer(faults=FaultPlan(schedule=["hang"] * 5, hang_s=10)) as server:
        model = stored(server, timeout=0.3, max_attempts=3)
        started = time.monotonic()
        error = run_one(model)
        elapsed = time.monotonic() - started
    assert isinstance(error, ModelError) and error.kind == "timeout" and error.retryable
    assert "timed out after 0.3s" in str(error) and "gave up after 3 attempts" in str(error)
    assert server.request_count == 3 and elapsed < 5
    assert (model.stats.timeouts, model.stats.failed, model.consecutive_failures) == (3, 1, 1)
    assert model.limiter is not None and model.limiter.decreases >= 1
    assert model.error_rate == 1.0 and "gave up" in model.last_error


def test_non_retryable_errors_are_not_retried():
    with OpenAIServer() as server:
        server.responder = lambda body: ServerReply(status=400)
        model = stored(server)
        error = run_one(model)
    assert isinstance(error, ModelError) and error.status == 400 and server.request_count == 1


def test_truncated_output_passes_through_with_finish_reason_length():
    with OpenAIServer(faults=FaultPlan(schedule=["truncate"], truncate_chars=7)) as server:
        model = stored(server)
        response = run_one(model)
    assert isinstance(response, ModelResponse)
    assert (response.text, response.finish_reason) == ("ok from", "length")
    assert server.request_count == 1 and model.stats.retries == 0


def test_retry_delays_use_full_jitter_and_honour_a_capped_retry_after():
    model = StoredModel(ScriptedModel(), None, backoff_s=1.0, max_backoff_s=5.0, max_retry_after_s=2.0)
    plain = ModelError("x", retryable=True)
    assert all(0 <= model.retry_delay(1, plain) <= 1.0 for _ in range(50))
    assert all(0 <= model.retry_delay(10, plain) <= 5.0 for _ in range(50))
    assert all(0.5 <= model.retry_delay(1, ModelError("x", retry_after=0.5)) <= 0.55 for _ in range(50))
    assert all(2.0 <= model.retry_delay(1, ModelError("x", retry_after=500)) <= 2.2 for _ in range(50))


def test_retry_after_parses_seconds_milliseconds_and_dates():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "300", "retry-after": "9"}) == 0.3
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 60, usegmt=True)}, now=now) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None and parse_retry_after({}) is None


@pytest.mark.timeout(30)
def test_random_faults_are_deterministic_and_every_call_ends():
    plan = FaultPlan.uniform(0.35, seed=7, retry_after_s=0.02, hang_s=5)
    again = FaultPlan.uniform(0.35, seed=7)
    assert [plan.choose(99, f"d{i}", 0) for i in range(200)] == [
        again.choose(99, f"d{i}", 0) for i in range(200)
    ]
    assert set(FAULTS) <= {plan.choose(99, f"d{i}", 0) for i in range(400)}
    with OpenAIServer(faults=plan, latency_s=0.01) as server:
        model = stored(server, timeout=0.3, max_attempts=6, concurrency=16)
        results = asyncio.run(complete_all(model, [request(f"q{i}") for i in range(60)]))
    assert all(isinstance(r, (ModelResponse, ModelError)) for r in results)
    answered = [r for r in results if isinstance(r, ModelResponse)]
    assert len(answered) >= 55 and {r.finish_reason for r in answered} <= {"stop", "length"}
    assert len(server.faults_injected) >= 5 and model.stats.retries > 0


# --- the adaptive limiter ------------------------------------------------------------------------------


def fill(limiter: AdaptiveLimiter) -> list:
    permits = []
    while (permit := limiter.try_acquire()) is not None:
        permits.append(permit)
    return permits


def finish(clock: FakeClock, permits: list, latency: float) -> None:
    clock.now += latency
    for permit in permits:
        permit.release_success()


def test_limiter_grows_by_one_per_stable_saturated_window_up_to_the_ceiling():
    clock = FakeClock()
    limiter = AdaptiveLimiter(5, initial=2, min_window=1, slow_start=False, clock=clock)
    limits = []
    for _ in range(6):
        permits = fill(limiter)
        assert len(permits) == limiter.limit
        finish(clock, permits, 1.0)
        limits.append(limiter.limit)
    assert limits == [3, 4, 5, 5, 5, 5]
    assert limiter.increases == 3 and limiter.in_flight == 0


def test_limiter_slow_start_doubles_until_latency_rises():
    clock = FakeClock()
    limiter = AdaptiveLimiter(100, initial=2, min_window=1, clock=clock)
    for latency in (1.0, 1.0, 1.0, 2.0):  # the last window is 2x the best: slow start ends, no growth
        finish(clock, fill(limiter), latency)
    assert limiter.limit == 16 and not limiter.slow_start
    finish(clock, fill(limiter), 1.2)
    assert limiter.limit == 17


def test_limiter_does_not_grow_when_latency_is_unstable_or_demand_is_low():
    clock = FakeClock()
    limiter = AdaptiveLimiter(10, initial=4, min_window=1, slow_start=False, clock=clock)
    finish(clock, fill(limiter), 1.0)
    assert limiter.limit == 5
    finish(clock, fill(limiter), 3.0)  # 3x the best window: hold
    assert limiter.limit == 5
    for _ in range(5):  # one call at a time never tests a limit of 5
        finish(clock, [limiter.try_acquire()], 1.0)
    assert limiter.limit == 5


def test_limiter_halves_once_per_congestion_event_and_never_below_one():
    limiter = AdaptiveLimiter(16, initial=8)
    before = fill(limiter)
    for permit in before:  # a burst of 429s for calls sent under the old limit: one cut
        permit.release_overloaded()
    assert (limiter.limit, limiter.decreases, limiter.in_flight) == (4, 1, 0)
    for _ in range(5):
        limiter.try_acquire().release_overloaded()
    assert limiter.limit == 1 and limiter.decreases == 3
    permit = limiter.try_acquire()
    assert limiter.try_acquire() is None
    permit.release()
    permit.release()  # idempotent
    assert limiter.in_flight == 0


@pytest.mark.timeout(10)
def test_limiter_wakes_waiters_in_order_when_room_appears_and_survives_cancellation():
    async def scenario() -> None:
        limiter = AdaptiveLimiter(4, initial=2, min_window=100)
        held = [await limiter.acquire(), await limiter.acquire()]
        order: list[int] = []

        async def waiter(number: int) -> None:
            permit = await limiter.acquire()
            order.append(number)
            await asyncio.sleep(0)
            permit.release()

        tasks = [asyncio.create_task(waiter(n)) for n in range(4)]
        await asyncio.sleep(0)
        assert limiter.waiting == 4
        tasks[1].cancel()  # cancelled while queued
        held[0].release_overloaded()  # the limit shrinks to 1 while 2 are in flight: nobody wakes
        await asyncio.sleep(0.01)
        assert order == [] and limiter.limit == 1
        held[1].release()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        assert order == [0, 2, 3] and limiter.in_flight == 0 and limiter.waiting == 0

        # a waiter cancelled right after being handed a permit passes it on instead of leaking it
        first = await limiter.acquire()
        late = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        first.release()  # grants the permit to `late`, whose task has not resumed yet
        late.cancel()
        with pytest.raises(asyncio.CancelledError):
            await late
        assert limiter.in_flight == 0
        limiter.set_ceiling(4, initial=3)
        assert limiter.limit == 3 and limiter.try_acquire() is not None

    asyncio.run(scenario())


@pytest.mark.timeout(20)
def test_a_burst_never_exceeds_the_ceiling_and_the_limit_grows():
    with OpenAIServer(latency_s=0.02) as server:
        url = server.base_url
        model = stored(server, concurrency=6, initial_concurrency=2)
        results = asyncio.run(complete_all(model, [request(f"q{i}") for i in range(100)]))
    assert all(isinstance(r, ModelResponse) for r in results)
    assert server.request_count == 100 and server.max_in_flight <= 6
    assert model.limiter is not None and model.limiter.limit > 2 and model.limiter.increases >= 1
    status = model.concurrency_status()
    assert status["in_flight"] == 0 and status["endpoints"][0]["endpoint"] == url


@pytest.mark.timeout(20)
def test_rate_limits_shrink_the_live_limit():
    faults = FaultPlan(schedule=[None] * 20 + ["rate_limit"] * 6, retry_after_s=0.05)
    with OpenAIServer(faults=faults, latency_s=0.02) as server:
        model = stored(server, concurrency=8, initial_concurrency=8)
        results = asyncio.run(complete_all(model, [request(f"q{i}") for i in range(40)]))
    assert all(isinstance(r, ModelResponse) for r in results)
    assert model.limiter is not None and 1 <= model.limiter.decreases <= 3  # one cut per congestion event
    assert model.stats.rate_limited == 6 and server.max_in_flight <= 8


# --- several endpoints ---------------------------------------------------------------------------------


def test_create_model_builds_a_pool_from_several_base_urls(monkeypatch):
    assert split_base_urls(" http://a/v1, ,http://b/v1 ") == ["http://a/v1", "http://b/v1"]
    assert split_base_urls(["http://a/v1", "http://b/v1,http://c/v1"]) == [
        "http://a/v1",
        "http://b/v1",
        "http://c/v1",
    ]
    pool = create_model("served", base_url="http://127.0.0.1:9/v1,http://127.0.0.1:10/v1", max_retries=5)
    assert isinstance(pool, EndpointPoolModel) and pool.name == "served" and pool.max_retries == 5
    assert pool.describe()["endpoints"] == ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"]
    assert isinstance(create_model("one", base_url=["http://127.0.0.1:9/v1"]), OpenAIModel)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1,http://127.0.0.1:11/v1")
    assert isinstance(create_model("env"), EndpointPoolModel)
    with pytest.raises(ModelError, match="--model NAME"):
        create_model(base_url="http://127.0.0.1:9/v1,http://127.0.0.1:10/v1")


@pytest.mark.timeout(10)
def test_pool_balances_by_load_within_each_endpoints_limit():
    peaks = {"a": 0, "b": 0}
    current = {"a": 0, "b": 0}

    def backend(label: str, delay: float) -> ScriptedModel:
        async def reply(request: ModelRequest) -> str:
            current[label] += 1
            peaks[label] = max(peaks[label], current[label])
            await asyncio.sleep(delay)
            current[label] -= 1
            return label

        return ScriptedModel(reply, name="m")

    pool = EndpointPoolModel([backend("a", 0.01), backend("b", 0.03)])
    model = StoredModel(pool, None, concurrency=3, initial_concurrency=3)
    assert model.limiter is None  # the pool limits per endpoint
    results = asyncio.run(complete_all(model, [request(f"q{i}") for i in range(60)]))
    answers = [r.text for r in results if isinstance(r, ModelResponse)]
    assert len(answers) == 60 and max(peaks.values()) <= 3
    assert answers.count("a") > answers.count("b") > 5  # the faster endpoint frees up and takes more
    status = model.concurrency_status()
    assert status["limit"] >= 6 and status["in_flight"] == 0 and len(status["endpoints"]) == 2


@pytest.mark.timeout(10)
def test_pool_waiters_are_served_in_order_and_cancellation_leaks_no_permit():
    gate = asyncio.Event()

    async def reply(request: ModelRequest) -> str:
        await gate.wait()
        return request.messages[0]["content"]

    async def scenario() -> None:
        pool = EndpointPoolModel([ScriptedModel(reply), ScriptedModel(reply)])
        pool.set_concurrency(1)
        first = [asyncio.create_task(pool.complete(request(f"r{i}"))) for i in range(2)]
        await asyncio.sleep(0)
        queued = [asyncio.create_task(pool.complete(request(f"w{i}"))) for i in range(3)]
        await asyncio.sleep(0)
        assert pool.waiting == 3 and sum(e["in_flight"] for e in pool.endpoint_status()) == 2
        queued[0].cancel()
        gate.set()
        answers = await asyncio.gather(*first, *queued[1:])
        assert [a.text for a in answers] == ["r0", "r1", "w1", "w2"]
        with pytest.raises(asyncio.CancelledError):
            await queued[0]
        assert pool.waiting == 0 and all(e["in_flight"] == 0 for e in pool.endpoint_status())

    asyncio.run(scenario())


@pytest.mark.timeout(30)
def test_pool_spreads_load_and_survives_an_endpoint_shutting_down(tmp_path: Path):
    with OpenAIServer(latency_s=0.02) as first, OpenAIServer(latency_s=0.02) as second:
        urls = [first.base_url, second.base_url]
        pool = create_model("test-model", base_url=urls, timeout=5)
        store = RunStore(tmp_path / "state.sqlite")
        model = StoredModel(pool, store, concurrency=4, backoff_s=0.01, max_attempts=4)

        async def scenario() -> list:
            async def kill_second() -> None:
                while second.request_count < 15:
                    await asyncio.sleep(0.005)
                await asyncio.to_thread(second.stop)

            killer = asyncio.create_task(kill_second())
            results = await complete_all(model, [request(f"q{i}") for i in range(80)])
            await killer
            return results

        results = asyncio.run(scenario())
        assert all(isinstance(r, ModelResponse) for r in results), [
            r for r in results if not isinstance(r, ModelResponse)
        ]
        assert first.request_count >= 30 and second.request_count >= 15
        status = {e["endpoint"]: e for e in model.concurrency_status()["endpoints"]}
        assert status[urls[0]]["healthy"] and not status[urls[1]]["healthy"]
        assert first.max_in_flight <= 4

        # the call store does not care which endpoint answered: one endpoint alone replays everything
        served = first.request_count
        single = StoredModel(OpenAIModel("test-model", base_url=first.base_url), store)
        again = asyncio.run(complete_all(single, [request(f"q{i}") for i in range(80)]))
        assert all(isinstance(r, ModelResponse) and r.cached for r in again)
        assert first.request_count == served
        store.close()


@pytest.mark.timeout(15)
def test_a_pool_with_every_endpoint_down_fails_cleanly():
    with OpenAIServer() as one, OpenAIServer() as two:
        urls = [one.base_url, two.base_url]
    pool = create_model("test-model", base_url=urls, timeout=2)
    with pytest.raises(ModelError, match="cannot connect"):
        asyncio.run(pool.prepare())
    model = StoredModel(pool, None, backoff_s=0.01, max_attempts=3)
    error = run_one(model)
    assert (
        isinstance(error, ModelError) and error.kind == "connect" and "gave up after 3 attempts" in str(error)
    )
