"""Agents: a prompt template file plus a pydantic output model, run against a `Model`.

The base renders the template (Jinja2, undefined variables are errors), calls the model with JSON-schema
structured output, validates the reply (leniently extracting JSON when the server ignores the schema),
re-asks once with the validation error (and, when the model just repeats its reply, starts once afresh
with a note of the error), and turns a "not suitable" answer into a recorded exit (reconsidered once by
agents that ask for it). The output models themselves live in `agentinstruct.agent_outputs`; which
agents a skill has and in what order they run is `agentinstruct.flows`' business.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import ValidationError

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse
from agentinstruct.reply_problems import copied_scaffold, echoed_seed, without_scaffold
from agentinstruct.tools import ToolUnavailable
from agentinstruct.tools.loop import ToolCallRecord, ToolLoop

PROMPTS_DIR = Path(__file__).parent / "prompts"


@cache
def _format_footer(output: type[AgentOutput]) -> str:
    """The rendered output-format footer of a structured agent's prompt (it depends on the class only)."""
    return render(PROMPTS_DIR, "output_format.j2", fields=output.field_descriptions())


@cache
def _agent_system(agent_name: str) -> str:
    """The default system message of an agent (it depends on the agent's name only)."""
    return render(PROMPTS_DIR, "agent_system.j2", agent_name=agent_name)


@dataclass
class AgentResult:
    """Outcome of one agent run: ok with an output, a not-suitable exit, or a failure with its reason."""

    status: Literal["ok", "not_suitable", "failed"]
    output: Any = None
    reason: str = ""
    call_ids: list[str] = field(default_factory=list)
    #: the rendered task (the first user message), e.g. the user turn of a training pair
    prompt: str = ""
    #: tool executions on the way to the answer, and the OpenAI-format turns that carried them
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    #: the whole conversation that produced the output (system, task, re-asks, tool turns, reply)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@cache
def _environment(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([directory, str(PROMPTS_DIR)]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # templates do not change during a run: no stat() of the file per render
    )


def render(directory: Path, template: str, **variables: Any) -> str:
    """Render a prompt template found under `directory` (or the shared prompts); undefined names fail."""
    return _environment(str(directory)).get_template(template).render(**variables).strip()


def extract_json(text: str) -> Any:
    """Parse the first JSON object in a reply, tolerating code fences and chatter around it."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.DOTALL) if "```" in text else None
    candidates = [fenced.group(1)] if fenced else []
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start:])
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value, _ = decoder.raw_decode(candidate.strip())
            return value
        except json.JSONDecodeError:
            continue
    raise ValueError("the reply contains no JSON object")


class Agent:
    """A prompt template + an output model (None for free-text agents such as the teacher)."""

    def __init__(
        self,
        name: str,
        template: str,
        directory: Path,
        output: type[AgentOutput] | None = None,
        *,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        reconsider_declines: bool = False,
        fallback: tuple[str, str, str] | None = None,
    ):
        self.name = name
        #: (the task's JSON key, a task in the user's words, the type's intent): what replaces the task of
        #: an unusable third reply whose other fields pass (`InstructionType.fallback_task`)
        self.fallback = fallback
        #: ask once more after a not-suitable exit (small models decline material that plainly fits)
        self.reconsider_declines = reconsider_declines
        self.template = template
        self.directory = Path(directory)
        self.output = output
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._schema_cache: dict[str, Any] | None = None

    def messages(self, variables: dict[str, Any], system: str | None = None) -> list[dict[str, Any]]:
        """The chat messages for one run: a system message and the rendered task."""
        prompt = render(self.directory, self.template, **variables)
        if self.output is not None:
            prompt += "\n" + _format_footer(self.output)
        if system is None:
            system = _agent_system(self.name)
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    async def run(
        self,
        model: Model,
        variables: dict[str, Any],
        *,
        tag: str,
        seed: int | None = None,
        system: str | None = None,
        tools: ToolLoop | None = None,
        answer_schema: dict[str, Any] | None = None,
        discourage_repeats: bool = False,
    ) -> AgentResult:
        """Render, call (through `tools` when given), validate, re-ask once on invalid output.

        `answer_schema` is a JSON Schema a free-text agent's reply is held to (a teacher's answer to a task
        that gives its answer's schema); an agent with an output model always asks for that model.
        `discourage_repeats` asks the engine to push away from repeating passages from the first call on
        (for an answer asked again because the first one went round in circles).

        A not-suitable exit is final, unless the agent reconsiders declines: then it is shown its reason
        and asked once whether the material really cannot support the task; if that reply is unusable,
        the first exit stands.
        """
        messages = self.messages(variables, system)
        prompt = messages[-1]["content"]
        result = await self._converse(
            model,
            messages,
            prompt,
            variables,
            tag=tag,
            seed=seed,
            tools=tools,
            answer_schema=answer_schema,
            looped=discourage_repeats,
        )
        if result.status != "not_suitable" or not self.reconsider_declines:
            return result
        feedback = render(PROMPTS_DIR, "reconsider.j2", reason=result.reason)
        second = await self.revise(model, result, feedback, variables, tag=tag, seed=seed, tools=tools)
        if second.status == "failed":
            result.call_ids = second.call_ids
            return result
        return second

    async def revise(
        self,
        model: Model,
        previous: AgentResult,
        feedback: str,
        variables: dict[str, Any],
        *,
        tag: str,
        seed: int | None = None,
        tools: ToolLoop | None = None,
        answer_schema: dict[str, Any] | None = None,
        discourage_repeats: bool = False,
    ) -> AgentResult:
        """Continue `previous`'s conversation with `feedback` (e.g. a failed check) for a new answer;
        `discourage_repeats` pushes the engine away from passages the conversation holds already."""
        messages = [*previous.messages, {"role": "user", "content": feedback}]
        # the feedback is scaffold too: the local teacher began a repaired answer with "Your answer does
        # not meet every requirement of the task:" and the check details; what the feedback quotes from
        # the earlier replies is theirs, so those count as material
        # ...but not the prompt's own lines an earlier reply copied: counted as material, they let the local
        # instruction agent's third copy of "Write a creative-writing request that..." through (run s11b)
        lines = {line.strip(" -") for line in previous.prompt.splitlines() if len(line.strip(" -")) >= 30}
        earlier = [
            _without(m["content"], lines)
            for m in previous.messages
            if m["role"] == "assistant" and isinstance(m["content"], str)
        ]
        result = await self._converse(
            model,
            messages,
            previous.prompt,
            {**variables, "earlier_replies": earlier},
            tag=tag,
            seed=seed,
            tools=tools,
            scaffold=f"{previous.prompt}\n{feedback}",
            answer_schema=answer_schema,
            looped=discourage_repeats,
        )
        result.call_ids = [*previous.call_ids, *result.call_ids]
        result.tool_calls = [*previous.tool_calls, *result.tool_calls]
        return result

    async def _converse(
        self,
        model: Model,
        messages: list[dict[str, Any]],
        prompt: str,
        variables: dict[str, Any],
        *,
        tag: str,
        seed: int | None,
        tools: ToolLoop | None,
        scaffold: str | None = None,
        answer_schema: dict[str, Any] | None = None,
        looped: bool = False,
    ) -> AgentResult:
        """Ask until a usable reply, three times at most; `scaffold` (default: the prompt) is the text
        a reply must not copy; `looped` discourages repeats from the first call on."""
        call_ids: list[str] = []
        records: list[ToolCallRecord] = []
        original, replies, error = messages, [], ""
        finishes: list[str | None] = []
        for attempt in (1, 2, 3):
            sent = messages
            request = ModelRequest(
                messages=messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=seed if seed is None or attempt < 3 else seed + 1,
                json_schema=self._schema(answer_schema),
                tag=tag,
                discourage_repeats=looped or None,
            )
            try:
                response, trace = await self._complete(model, request, tools, call_ids, records)
            except (ModelError, ToolUnavailable) as exc:
                kind = "model_error" if isinstance(exc, ModelError) else "tool_unavailable"
                reason = f"{kind}: {exc}"
                return AgentResult(
                    "failed", reason=reason, call_ids=call_ids, prompt=prompt, tool_calls=records
                )
            result, error = self._parse(response.text, response.finish_reason, variables)
            if result is not None and result.status == "not_suitable" and replies:
                result = self._decline_after_feedback(response.text, replies[-1], variables) or result
            if result is not None and result.ok:
                copied = copied_scaffold(result.output, scaffold or prompt, variables)
                if copied:
                    result = self._without_copies(response, scaffold or prompt, variables)
                error = copied if result is None else echoed_seed(result.output, variables)
                result = None if error else result
            used = response.text
            if result is None and attempt == 3:  # a reply's task may give way to the type's fallback
                tried = [*zip(replies, finishes, strict=True), (response.text, response.finish_reason)]
                result, used = self._with_fallback_task(tried, scaffold or prompt, variables)
            if result is not None:
                result.call_ids, result.prompt = call_ids, prompt
                result.tool_calls, result.trace = records, trace
                result.messages = [*messages, *trace, {"role": "assistant", "content": used}]
                return result
            replies.append(response.text)
            finishes.append(response.finish_reason)
            looped = looped or response.finish_reason == "repetition"
            cut = response.finish_reason == "length"
            retry = self._retry_messages(original, messages, replies, error, looped, cut)
            if retry is None:
                break
            messages = retry
        return AgentResult(
            "failed",
            reason=f"invalid_output: {error}",
            call_ids=call_ids,
            prompt=prompt,
            tool_calls=records,
            messages=[*sent, {"role": "assistant", "content": replies[-1]}],
        )

    def _decline_after_feedback(
        self, text: str, earlier: str, variables: dict[str, Any]
    ) -> AgentResult | None:
        """A decline that answers feedback on a task the agent wrote, read as that task when its fields
        are whole and pass every rule; None otherwise (the decline stands).

        The agent judged the material suitable when it wrote the earlier reply; told what to fix, the local
        model fixed it and declined in the same reply, its reason about our feedback, not the material
        (s13: the floor lowered to 102 words as asked, "suitable": false, "The text contains 68 words,
        which is less than the required 102"; 3 of 5 text_modification requests ended so).
        """
        if self.output is None or not _wrote_task(earlier):
            return None
        try:
            data = extract_json(text)
        except ValueError:
            return None
        result, _ = self._parse(json.dumps({**data, "suitable": True, "reason": ""}), None, variables)
        return result if result is not None and result.ok else None

    def _retry_messages(
        self,
        original: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        replies: list[str],
        error: str,
        looped: bool = False,
        cut: bool = False,
    ) -> list[dict[str, Any]] | None:
        """The conversation for the next attempt after an unusable reply, or None to give up.

        First the reply and the error go back in the conversation. A second unusable reply gets one fresh
        start: the original task with a note of the latest error, without the earlier replies to copy (small
        models copy what is in their context: the local model repeated its reply word for word, or copied
        another line of the prompt, 4 of 12 rejections in run s12a, which gave up after two replies). A reply
        that went into a loop is never shown back (shown it, the local teacher wrote the same looping speech
        twice more); each attempt after it starts afresh, and the request asks the engine to discourage
        repeats. A reply `cut` off at the token limit starts afresh too: shown back, its tokens filled the
        context (SmolLM2's 700-token transcript, its prompt and the next reply overflowed a 2,048-token slot)
        and are paid for again as prompt.
        """
        fresh_start = [*original[:-1], {**original[-1], "content": f"{original[-1]['content']}\n\n"}]
        fresh_start[-1]["content"] += render(PROMPTS_DIR, "retry_note.j2", error=error)
        if (looped or cut) and len(replies) < 3:
            return fresh_start
        if len(replies) == 1:
            reask = render(PROMPTS_DIR, "reask.j2", error=error, structured=self.output is not None)
            reply = {"role": "assistant", "content": replies[0]}
            return [*messages, reply, {"role": "user", "content": reask}]
        if len(replies) == 2:
            return fresh_start
        return None

    @staticmethod
    async def _complete(
        model: Model,
        request: ModelRequest,
        tools: ToolLoop | None,
        call_ids: list[str],
        records: list[ToolCallRecord],
    ) -> tuple[ModelResponse, list[dict[str, Any]]]:
        """One answer, directly or through the tool loop; appends the call ids and tool executions."""
        if tools is None:
            response = await model.complete(request)
            call_ids.append(response.call_id)
            return response, []
        looped = await tools.run(model, request)
        call_ids += looped.call_ids
        records += looped.tool_calls
        return looped.response, looped.trace

    def _schema(self, answer_schema: dict[str, Any] | None = None) -> dict[str, Any] | None:
        # built once per agent: pydantic's schema generation costs more CPU than the rest of a request
        if self.output is None:
            return {"name": "answer", "schema": answer_schema} if answer_schema else None
        if self._schema_cache is None:
            self._schema_cache = {"name": self.output.__name__, "schema": self.output.request_schema()}
        return self._schema_cache

    def _without_copies(
        self, response: ModelResponse, scaffold: str, variables: dict[str, Any]
    ) -> AgentResult | None:
        """The reply parsed again, with its copies of the prompt's lines taken out, when what is left is a
        usable reply of its own (checked like any reply); None otherwise."""
        try:
            data = extract_json(response.text)
        except ValueError:
            return None
        mended = without_scaffold(data, scaffold, variables) if isinstance(data, dict) else None
        if mended is None:
            return None
        result, _ = self._parse(json.dumps(mended), response.finish_reason, variables)
        if result is None or not result.ok or copied_scaffold(result.output, scaffold, variables):
            return None
        return result

    def _with_fallback_task(
        self, replies: list[tuple[str, str | None]], scaffold: str, variables: dict[str, Any]
    ) -> tuple[AgentResult | None, str]:
        """The latest of the (text, finish reason) replies whose fields all pass with the type's fallback
        task in place of its own (a copy of the prompt or of the material, a fragment), and its text; None
        without a fallback, or when every reply declines or still fails. The intent is no copy here: the
        fallback says it in the user's words. An earlier reply counts too: s44's third sentiment reply gave
        one label, its first two a usable label set under a task that copied the intent."""
        if self.fallback is None:
            return None, ""
        key, task, intent = self.fallback
        for text, finish_reason in reversed(replies):
            try:
                data = extract_json(text)
            except ValueError:
                continue
            if not isinstance(data, dict) or data.get("suitable") in (False, "false"):
                continue
            result, _ = self._parse(json.dumps({**data, key: task}), finish_reason, variables)
            if result is None or not result.ok:
                continue
            if not copied_scaffold(result.output, scaffold.replace(intent, ""), variables):
                return result, text
        return None, ""

    def _parse(
        self, text: str, finish_reason: str | None, variables: dict[str, Any]
    ) -> tuple[AgentResult | None, str]:
        if finish_reason == "repetition":  # the local backend ended a reply that went into a loop
            return None, "the reply went into a loop, repeating the same passage; write it again, once"
        if self.output is None:
            if finish_reason == "length":
                return (
                    None,
                    f"the answer was cut off at the {self.max_tokens}-token limit; answer more concisely",
                )
            if not text.strip():
                return None, "the answer was empty"
            return AgentResult("ok", output=text.strip()), ""
        if finish_reason == "length":
            return None, f"the reply was cut off at the {self.max_tokens}-token limit; write a shorter reply"
        try:
            data = extract_json(text)
            if isinstance(data, dict) and data.get("suitable") in (False, "false"):
                reason = str(data.get("reason") or "").strip()
                if len(reason.split()) < 2:  # "-" or "": a slip of the model, not a decline with a cause
                    return None, (
                        '"suitable" is false but "reason" gives no reason: write what was asked with '
                        '"suitable": true, or give the reason in one sentence'
                    )
                return AgentResult("not_suitable", reason=reason), ""
            # the variables are the validation context: a rule may read the material (flows.outputs)
            output = self.output.model_validate(data, context=variables)
            return AgentResult("ok", output=output), ""
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors()
            )
            return None, f"invalid fields ({detail})"
        except ValueError as exc:
            return None, str(exc)


def _wrote_task(reply: str) -> bool:
    """Whether a structured reply wrote its task rather than declining (a JSON object, not suitable=false)."""
    try:
        data = extract_json(reply)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("suitable") not in (False, "false")


def _without(text: str, lines: set[str]) -> str:
    """The text with every occurrence of these lines taken out."""
    for line in lines:
        text = text.replace(line, "")
    return text
