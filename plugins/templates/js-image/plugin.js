// An image plugin in JavaScript that paints a gradient whose colours come from the prompt: a
// working skeleton that shows what the host expects (a PNG of exactly the size asked for, usage
// in prompt characters and images, a cost), ready to have the painting replaced by an image API
// reached with fetch(), as in the js-llm template.
//
// The PNG is stored without compression (the component has no zlib); an image API answers
// with its own compressed PNG.
//
// Settings, read from the environment the host grants (see README.md):
//   IMAGE_USD_PER_IMAGE  price, for the reported cost (default 0)
//
// Build: ./build.sh (componentize-js --wit wit --world-name image-http-provider -d fetch-event -o js-image.wasm plugin.js)

import { getEnvironment } from 'wasi:cli/environment@0.2.12';

// The largest side painted, so a request cannot ask for gigabytes of pixels.
const MAX_SIDE = 4096;

function setting(name, fallback) {
  const found = getEnvironment().find(([key]) => key === name);
  return found === undefined || found[1] === '' ? fallback : found[1];
}

export const image = {
  generate(request) {
    const { width, height } = request;
    if (!(width > 0 && width <= MAX_SIDE && height > 0 && height <= MAX_SIDE)) {
      const message = `cannot paint ${width}x${height}`;
      throw Object.assign(new Error(message), {
        payload: { kind: 'invalid-request', retryable: false, message, retryAfterMs: undefined },
      });
    }
    // FNV-1a of the prompt: the same prompt always gives the same picture.
    let seed = 0xcbf29ce484222325n;
    for (const byte of new TextEncoder().encode(request.prompt)) {
      seed = ((seed ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    const base = [0n, 8n, 16n].map((shift) => Number((seed >> shift) & 0xffn));
    // Each row starts with PNG filter type 0 (none).
    const rows = new Uint8Array(height * (1 + 3 * width));
    let at = 0;
    for (let y = 0; y < height; y += 1) {
      rows[at++] = 0;
      for (let x = 0; x < width; x += 1) {
        const mix = (x + y) / (width + height);
        for (const channel of base) rows[at++] = Math.trunc(channel * (1 - mix) + 127.5 * mix);
      }
    }
    const price = Number(setting('IMAGE_USD_PER_IMAGE', '0'));
    return {
      png: png(width, height, rows),
      width,
      height,
      revisedPrompt: undefined,
      usage: {
        input: { amount: BigInt([...request.prompt].length), unit: 'characters' },
        output: { amount: 1n, unit: 'images' },
      },
      cost: { amountMicros: BigInt(Math.round(price * 1e6)), currency: 'USD' },
    };
  },
};

// An 8-bit RGB PNG of filtered `rows`, in stored (uncompressed) deflate blocks.
function png(width, height, rows) {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8);
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlibStored(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function chunk(kind, body) {
  const typed = concat([new TextEncoder().encode(kind), body]);
  const out = new Uint8Array(8 + typed.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(typed, 4);
  view.setUint32(4 + typed.length, crc32(typed));
  return out;
}

// A zlib stream of stored blocks (at most 65535 bytes each) and the Adler-32 of the data.
function zlibStored(data) {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + blocks * 5 + data.length + 4);
  const view = new DataView(out.buffer);
  out.set([0x78, 0x01]);
  let at = 2;
  for (let block = 0; block < blocks; block += 1) {
    const piece = data.subarray(block * 65535, (block + 1) * 65535);
    out[at] = block === blocks - 1 ? 1 : 0;
    view.setUint16(at + 1, piece.length, true);
    view.setUint16(at + 3, ~piece.length & 0xffff, true);
    out.set(piece, at + 5);
    at += 5 + piece.length;
  }
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  view.setUint32(at, ((b << 16) | a) >>> 0);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
