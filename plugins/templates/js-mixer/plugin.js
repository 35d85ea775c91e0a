// A mixer plugin in JavaScript that lays the clips end to end with gaps and padding: a working
// skeleton that shows what the host expects (clips read through `audio-source`, the episode
// written through `audio-sink` as a 16-bit PCM WAV whose header matches the stated format and
// duration, where each clip landed, usage and cost), ready for crossfades, a music bed and
// loudness normalisation (`plugins/mock-mixer` in the host's repository does all of them).
//
// Clips are 16-bit PCM WAVs at any rate, mono or stereo: each is converted to the requested
// format (`converted`: linear interpolation, mono spread over both channels). Each clip is read
// whole, which suits speech lines; a mixer for long inputs reads them in chunks, as
// `audio-source` allows.
//
// Build: ./build.sh (componentize-js --wit wit --world-name mixer-provider -d http -d fetch-event -o js-mixer.wasm plugin.js)

import { read, size } from 'pipeline:services/audio-source@0.1.0';
import { write } from 'pipeline:services/audio-sink@0.1.0';

// Bytes asked of `audio-source` and handed to `audio-sink` at a time.
const CHUNK = 1 << 20;

// A thrown object whose `payload` is a provider-error becomes the `err` of the result. A
// mixer's failures repeat, so none is retryable.
function failure(kind, message) {
  const error = new Error(message);
  error.payload = { kind, retryable: false, message, retryAfterMs: undefined };
  return error;
}

export const mixer = {
  mix(request) {
    const { settings } = request;
    const { channels, sampleRate: rate } = settings;
    if ((channels !== 1 && channels !== 2) || rate === 0) {
      throw failure('invalid-request', 'channels must be 1 or 2 and the sample rate above 0');
    }
    const clips = request.clips.map((clip) => readClip(clip.source, rate, channels, clip.gainDb));
    const framesOf = (ms) => Math.floor((ms * rate) / 1000);
    const msOf = (frames) => Math.floor((frames * 1000) / rate);

    // The layout first: the WAV header states the total length before any sample.
    let at = framesOf(settings.paddingMs);
    const starts = [];
    const placements = [];
    request.clips.forEach((clip, index) => {
      if (index > 0) at += framesOf(clip.gapBeforeMs ?? settings.gapMs);
      starts.push(at);
      const startMs = msOf(at);
      at += clips[index].length / channels;
      placements.push({ clip: index, startMs: BigInt(startMs), endMs: BigInt(msOf(at)) });
    });
    const totalFrames = at + framesOf(settings.paddingMs);
    const dataBytes = totalFrames * channels * 2;
    if (dataBytes > 0xffffffff - 44) throw failure('invalid-request', 'the episode is too long for a WAV file');

    writeAll(wavHeader(rate, channels, dataBytes));
    let written = 0;
    let sumOfSquares = 0;
    let peak = 1;
    starts.forEach((start, index) => {
      const samples = clips[index];
      writeSilence((start - written) * channels * 2);
      written = start + samples.length / channels;
      // Indexed, with no calls per sample: the component's JavaScript is interpreted.
      for (let i = 0; i < samples.length; i += 1) {
        const value = samples[i];
        sumOfSquares += value * value;
        if (value > peak) peak = value;
        else if (-value > peak) peak = -value;
      }
      writeAll(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    });
    writeSilence((totalFrames - written) * channels * 2);

    // An RMS level, not a true EBU R128 measurement: replace it with a loudness meter.
    const rms = Math.sqrt(sumOfSquares / Math.max(totalFrames * channels, 1)) / 32768;
    const episodeMs = msOf(totalFrames);
    const clipMs = msOf(clips.reduce((sum, samples) => sum + samples.length / channels, 0));
    return {
      format: { encoding: 'wav-pcm16', sampleRate: rate, channels },
      durationMs: BigInt(episodeMs),
      integratedLufs: 20 * Math.log10(Math.max(rms, 1e-9)),
      truePeakDbtp: 20 * Math.log10(Math.min(peak, 32767) / 32768),
      placements,
      usage: {
        input: { amount: BigInt(clipMs), unit: 'audio-milliseconds' },
        output: { amount: BigInt(episodeMs), unit: 'audio-milliseconds' },
      },
      cost: { amountMicros: 0n, currency: 'USD' },
    };
  },
};

// A clip as 16-bit samples in the output's rate and channel layout, with its gain applied.
function readClip(source, rate, channels, gainDb) {
  let bytes;
  try {
    const total = Number(size(source));
    bytes = new Uint8Array(total);
    let filled = 0;
    while (filled < total) {
      const chunk = read(source, BigInt(filled), CHUNK);
      if (chunk.length === 0) break;
      bytes.set(chunk.subarray(0, total - filled), filled);
      filled += chunk.length;
    }
  } catch (error) {
    throw failure('internal', `input ${source}: ${error.payload ?? error.message}`);
  }
  const wav = decodeWav(source, bytes);
  const samples = converted(wav.samples, wav.rate, wav.channels, rate, channels);
  const gain = 10 ** (gainDb / 20);
  if (gain !== 1) {
    samples.forEach((value, index) => {
      samples[index] = Math.max(-32768, Math.min(32767, Math.trunc(value * gain)));
    });
  }
  return samples;
}

// The samples at `rate` with `channels`: a stereo clip averaged for mono, the rate changed by
// linear interpolation (clean for speech upsampled; downsampling music by a large factor wants
// a low-pass filter first), then a mono clip spread over both channels. Channels are reduced
// before and spread after the rate changes, so the loops run on the fewest samples.
function converted(samples, clipRate, clipChannels, rate, channels) {
  let layout = clipChannels;
  if (channels === 1 && clipChannels > 1) {
    const mono = new Int16Array(Math.floor(samples.length / clipChannels));
    mono.forEach((_, frame) => {
      let sum = 0;
      for (let c = 0; c < clipChannels; c += 1) sum += samples[frame * clipChannels + c];
      mono[frame] = Math.trunc(sum / clipChannels);
    });
    samples = mono;
    layout = 1;
  }
  if (clipRate !== rate) samples = resampled(samples, layout, clipRate, rate);
  if (layout === channels) return samples;
  const frames = Math.floor(samples.length / layout);
  const spread = new Int16Array(frames * channels);
  for (let frame = 0; frame < frames; frame += 1) {
    for (let channel = 0; channel < channels; channel += 1) {
      spread[frame * channels + channel] = samples[frame * layout + (channel % layout)];
    }
  }
  return spread;
}

// Interleaved `samples` from `clipRate` to `rate`, by linear interpolation.
function resampled(samples, channels, clipRate, rate) {
  const sourceFrames = Math.floor(samples.length / channels);
  const outputFrames = Math.floor((sourceFrames * rate) / clipRate);
  const out = new Int16Array(outputFrames * channels);
  for (let index = 0; index < outputFrames; index += 1) {
    // Where output frame `index` falls in the clip: a whole frame and a fraction.
    const position = index * clipRate;
    const before = Math.floor(position / rate);
    const fraction = (position % rate) / rate;
    const at = before * channels;
    const next = Math.min(before + 1, sourceFrames - 1) * channels;
    for (let channel = 0; channel < channels; channel += 1) {
      const a = samples[at + channel];
      out[index * channels + channel] = Math.round(a + (samples[next + channel] - a) * fraction);
    }
  }
  return out;
}

// The sample rate, channels and samples of a 16-bit PCM WAV.
function decodeWav(source, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw failure('invalid-request', `input ${source} is not a WAV file`);
  }
  let format;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const kind = tag(at);
    const length = view.getUint32(at + 4, true);
    const body = at + 8;
    if (kind === 'fmt ' && length >= 16) {
      format = {
        tag: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (kind === 'data' && format !== undefined) {
      if (format.tag !== 1 || format.bits !== 16) {
        throw failure('invalid-request', `input ${source} is not 16-bit PCM`);
      }
      if (format.channels === 0 || format.rate === 0) {
        throw failure('invalid-request', `input ${source} has no channels or no sample rate`);
      }
      const count = Math.floor(Math.min(length, bytes.length - body) / 2);
      const samples = new Int16Array(count);
      for (let i = 0; i < count; i += 1) samples[i] = view.getInt16(body + 2 * i, true);
      return { rate: format.rate, channels: format.channels, samples };
    }
    at = body + length + (length % 2);
  }
  throw failure('invalid-request', `input ${source} has no fmt and data chunks`);
}

// The canonical 44-byte header of 16-bit PCM.
function wavHeader(rate, channels, dataBytes) {
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  const text = (at, value) => [...value].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, dataBytes, true);
  return header;
}

function writeAll(bytes) {
  for (let at = 0; at < bytes.length; at += CHUNK) {
    try {
      write(bytes.subarray(at, at + CHUNK));
    } catch (error) {
      throw failure('internal', `output: ${error.payload ?? error.message}`);
    }
  }
}

function writeSilence(count) {
  const zeros = new Uint8Array(Math.min(count, CHUNK));
  for (let left = count; left > 0; left -= zeros.length) writeAll(zeros.subarray(0, Math.min(left, CHUNK)));
}
