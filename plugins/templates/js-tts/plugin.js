// A TTS plugin in JavaScript that speaks each word as a short tone: a working skeleton that
// shows what the host expects (a 16-bit PCM WAV whose header matches the stated format and
// duration, usage in characters and milliseconds, a cost), ready to have the tone replaced by
// a real voice (a TTS server reached with fetch(), as in the js-llm template).
//
// Settings, read from the environment the host grants (see README.md):
//   TTS_USD_PER_MILLION_CHARACTERS  price, for the reported cost (default 0)
//
// Build: ./build.sh (componentize-js --wit wit --world-name tts-http-provider -d fetch-event -o js-tts.wasm plugin.js)

import { getEnvironment } from 'wasi:cli/environment@0.2.12';

const SAMPLE_RATE = 24000;
// Pitch in Hz per voice id; the show blueprints name these ids.
const VOICES = { aria: 262, basil: 196, cora: 330, dmitri: 147, elena: 294, felix: 220 };

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

export const tts = {
  listVoices() {
    return Object.entries(VOICES).map(([id, pitch]) => ({
      id,
      name: id[0].toUpperCase() + id.slice(1),
      description: `a ${pitch} Hz tone`,
      language: 'en-US',
    }));
  },

  synthesize(request) {
    const pitch = VOICES[request.voice];
    if (pitch === undefined) throw failure('invalid-request', false, `unknown voice ${request.voice}`);
    const speed = request.speed > 0 ? request.speed : 1;
    const pieces = [];
    for (const word of request.text.split(/\s+/).filter(Boolean)) {
      pieces.push(Math.floor((SAMPLE_RATE * 0.06 * word.length) / speed), -Math.floor((SAMPLE_RATE * 0.08) / speed));
    }
    const frames = pieces.reduce((sum, piece) => sum + Math.abs(piece), 0);
    const wav = new Uint8Array(44 + frames * 2);
    const view = new DataView(wav.buffer);
    writeHeader(view, frames);
    let at = 44;
    for (const piece of pieces) {
      for (let i = 0; i < Math.abs(piece); i += 1) {
        // Positive pieces are tone, negative ones silence.
        const sample = piece > 0 ? Math.round(8000 * Math.sin((2 * Math.PI * pitch * i) / SAMPLE_RATE)) : 0;
        view.setInt16(at, sample, true);
        at += 2;
      }
    }
    const durationMs = Math.floor((frames * 1000) / SAMPLE_RATE);
    const characters = [...request.text].length;
    const price = Number(setting('TTS_USD_PER_MILLION_CHARACTERS', '0'));
    return {
      audio: wav,
      format: { encoding: 'wav-pcm16', sampleRate: SAMPLE_RATE, channels: 1 },
      durationMs: BigInt(durationMs),
      usage: {
        input: { amount: BigInt(characters), unit: 'characters' },
        output: { amount: BigInt(durationMs), unit: 'audio-milliseconds' },
      },
      cost: { amountMicros: BigInt(Math.round(characters * price)), currency: 'USD' },
    };
  },
};

// The canonical 44-byte header of mono 16-bit PCM.
function writeHeader(view, frames) {
  const text = (at, value) => [...value].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + frames * 2, true);
  text(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, SAMPLE_RATE, true);
  view.setUint32(28, SAMPLE_RATE * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, frames * 2, true);
}
