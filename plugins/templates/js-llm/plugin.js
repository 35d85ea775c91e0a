// An LLM plugin in JavaScript for any OpenAI-compatible chat server (OpenAI, Ollama, llama.cpp,
// vLLM), reached with fetch(), which the engine sends over wasi:http through the host's
// network gate.
//
// Settings, read from the environment the host grants (see README.md):
//   LLM_BASE_URL  the API root, for example http://127.0.0.1:11434/v1 (required)
//   LLM_API_KEY   sent as `Authorization: Bearer` when set
//   LLM_MODEL     the model when the stage names none (default: gpt-4o-mini)
//   LLM_INPUT_USD_PER_MILLION, LLM_OUTPUT_USD_PER_MILLION  prices, for the reported cost (default 0)
//
// Build: ./build.sh (componentize-js --wit wit --world-name llm-http-provider -d fetch-event -o js-llm.wasm plugin.js)

import { getEnvironment } from 'wasi:cli/environment@0.2.12';

const FINISH_REASONS = { length: 'length', content_filter: 'content-filter' };

// The host passes only the variables it grants this plugin, read at each call.
function setting(name, fallback) {
  const found = getEnvironment().find(([key]) => key === name);
  return found === undefined || found[1] === '' ? fallback : found[1];
}

// A thrown object whose `payload` is a provider-error becomes the `err` of the result.
function failure(kind, retryable, message) {
  const error = new Error(message);
  error.payload = { kind, retryable, message, retryAfterMs: undefined };
  return error;
}

export const llm = {
  // Async is fine: the engine runs its event loop until the promise settles, and the host's
  // deadline stops a call that waits too long.
  async generate(request) {
    const baseUrl = setting('LLM_BASE_URL');
    if (!baseUrl) {
      throw failure('invalid-request', false, 'LLM_BASE_URL is not granted');
    }
    const model = request.model ?? setting('LLM_MODEL', 'gpt-4o-mini');
    const body = {
      model,
      messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
    };
    if (request.jsonSchema !== undefined) {
      body.response_format = {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: JSON.parse(request.jsonSchema) },
      };
    }
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    const headers = {
      'content-type': 'application/json',
      'idempotency-key': request.idempotencyKey,
    };
    const apiKey = setting('LLM_API_KEY');
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;

    let response;
    let text;
    try {
      response = await fetch(`${baseUrl.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      text = await response.text();
    } catch (error) {
      throw failure('unavailable', true, `request failed: ${error}`);
    }
    const status = response.status;
    if (status === 429 || status === 408 || status >= 500) {
      throw failure('unavailable', true, `HTTP ${status}: ${text}`);
    }
    if (status === 401 || status === 403) {
      throw failure('unauthorized', false, `HTTP ${status}: ${text}`);
    }
    if (status >= 400) {
      throw failure('invalid-request', false, `HTTP ${status}: ${text}`);
    }
    let answer;
    let choice;
    try {
      answer = JSON.parse(text);
      choice = answer.choices[0];
      if (typeof choice.message.content !== 'string') throw new Error('no message content');
    } catch (error) {
      // A truncated body or a provider glitch is usually gone on the next attempt.
      throw failure('malformed-response', true, `unreadable answer: ${error}`);
    }
    const usage = answer.usage ?? {};
    const tokensIn = BigInt(usage.prompt_tokens ?? 0);
    const tokensOut = BigInt(usage.completion_tokens ?? 0);
    const micros = Math.round(
      Number(tokensIn) * Number(setting('LLM_INPUT_USD_PER_MILLION', '0')) +
        Number(tokensOut) * Number(setting('LLM_OUTPUT_USD_PER_MILLION', '0')),
    );
    return {
      text: choice.message.content,
      model: answer.model ?? model,
      finishReason: FINISH_REASONS[choice.finish_reason] ?? 'stop',
      usage: {
        input: { amount: tokensIn, unit: 'tokens' },
        output: { amount: tokensOut, unit: 'tokens' },
      },
      cost: { amountMicros: BigInt(micros), currency: 'USD' },
    };
  },
};
