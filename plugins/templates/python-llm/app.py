"""An LLM plugin in Python for any OpenAI-compatible chat server (OpenAI, Ollama, llama.cpp,
vLLM), reached over wasi:http through the host's network gate.

Settings, read from the environment the host grants (see README.md):
  LLM_BASE_URL   the API root, for example http://127.0.0.1:11434/v1 (required)
  LLM_API_KEY    sent as `Authorization: Bearer` when set
  LLM_MODEL      the model when the stage names none (default: gpt-4o-mini)
  LLM_INPUT_USD_PER_MILLION, LLM_OUTPUT_USD_PER_MILLION  prices, for the reported cost (default 0)

Build: ./build.sh (componentize-py -d wit -w llm-http-provider componentize app -o python-llm.wasm)
"""

import json
import os
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports.llm import FinishReason, GenerateRequest, GenerateResponse, Role
from wit_world.imports import outgoing_handler
from wit_world.imports import wasi_http_types as http
from wit_world.imports.pipeline_services_types import (
    Cost,
    ErrorKind,
    ProviderError,
    Quantity,
    Usage,
    UsageUnit,
)
from wit_world.imports.streams import StreamError_Closed

ROLES = {Role.SYSTEM: "system", Role.USER: "user", Role.ASSISTANT: "assistant"}
FINISH_REASONS = {"length": FinishReason.LENGTH, "content_filter": FinishReason.CONTENT_FILTER}


class Llm(exports.Llm):
    def generate(self, request: GenerateRequest) -> GenerateResponse:
        base_url = os.environ.get("LLM_BASE_URL")
        if not base_url:
            raise failure(ErrorKind.INVALID_REQUEST, False, "LLM_BASE_URL is not granted")
        model = request.model or os.environ.get("LLM_MODEL", "gpt-4o-mini")
        body = {
            "model": model,
            "messages": [{"role": ROLES[m.role], "content": m.content} for m in request.messages],
        }
        if request.json_schema is not None:
            schema = json.loads(request.json_schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        headers = [
            ("content-type", b"application/json"),
            ("idempotency-key", request.idempotency_key.encode()),
        ]
        api_key = os.environ.get("LLM_API_KEY")
        if api_key:
            headers.append(("authorization", f"Bearer {api_key}".encode()))

        status, text = post(base_url.rstrip("/") + "/chat/completions", headers, json.dumps(body))
        if status == 429 or status == 408 or status >= 500:
            raise failure(ErrorKind.UNAVAILABLE, True, f"HTTP {status}: {text}")
        if status in (401, 403):
            raise failure(ErrorKind.UNAUTHORIZED, False, f"HTTP {status}: {text}")
        if status >= 400:
            raise failure(ErrorKind.INVALID_REQUEST, False, f"HTTP {status}: {text}")
        try:
            answer = json.loads(text)
            choice = answer["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            # A truncated body or a provider glitch is usually gone on the next attempt.
            raise failure(ErrorKind.MALFORMED_RESPONSE, True, f"unreadable answer: {error}")
        usage = answer.get("usage") or {}
        tokens_in = int(usage.get("prompt_tokens", 0))
        tokens_out = int(usage.get("completion_tokens", 0))
        micros = round(
            tokens_in * float(os.environ.get("LLM_INPUT_USD_PER_MILLION", "0"))
            + tokens_out * float(os.environ.get("LLM_OUTPUT_USD_PER_MILLION", "0"))
        )
        return GenerateResponse(
            text=content,
            model=answer.get("model", model),
            finish_reason=FINISH_REASONS.get(choice.get("finish_reason"), FinishReason.STOP),
            usage=Usage(Quantity(tokens_in, UsageUnit.TOKENS), Quantity(tokens_out, UsageUnit.TOKENS)),
            cost=Cost(micros, "USD"),
        )


def post(url: str, headers: list, body: str) -> tuple:
    """Sends one POST through wasi:http and returns (status, body text). Blocking is fine: each
    call has its own instance, and the host's deadline stops a call that waits too long."""
    parts = urlsplit(url)
    request = http.OutgoingRequest(http.Fields.from_list(headers))
    request.set_method(http.Method_Post())
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + ("?" + parts.query if parts.query else ""))
    outgoing_body = request.body()
    future = outgoing_handler.handle(request, None)
    with outgoing_body.write() as stream:
        data = body.encode()
        # blocking-write-and-flush takes at most 4096 bytes at a time.
        for start in range(0, len(data), 4096):
            stream.blocking_write_and_flush(data[start : start + 4096])
    http.OutgoingBody.finish(outgoing_body, None)

    future.subscribe().block()
    outcome = future.get()
    if outcome is None or isinstance(outcome, Err) or isinstance(outcome.value, Err):
        detail = outcome.value.value if outcome is not None and isinstance(outcome, Ok) else outcome
        raise failure(ErrorKind.UNAVAILABLE, True, f"request to {parts.netloc} failed: {detail}")
    response = outcome.value.value
    incoming_body = response.consume()
    chunks = []
    with incoming_body.stream() as stream:
        while True:
            try:
                chunks.append(stream.blocking_read(65536))
            except Err as error:
                if isinstance(error.value, StreamError_Closed):
                    break
                raise failure(ErrorKind.UNAVAILABLE, True, "the answer was cut off")
    return response.status(), b"".join(chunks).decode("utf-8", "replace")


def failure(kind: ErrorKind, retryable: bool, message: str) -> Err:
    return Err(ProviderError(kind, retryable, message, None))
