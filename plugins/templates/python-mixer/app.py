"""A mixer plugin in Python that lays the clips end to end with gaps and padding: a working
skeleton that shows what the host expects (clips read through `audio-source`, the episode
written through `audio-sink` as a 16-bit PCM WAV whose header matches the stated format and
duration, where each clip landed, usage and cost), ready for crossfades, a music bed and
loudness normalisation (`plugins/mock-mixer` in the host's repository does all of them).

Clips are 16-bit PCM WAVs at any rate, mono or stereo: each is converted to the requested
format (`converted`: linear interpolation, mono spread over both channels). Each clip is read
whole, which suits speech lines; a mixer for long inputs reads them in chunks, as
`audio-source` allows.

Build: ./build.sh (componentize-py -d wit -w mixer-provider componentize app -o python-mixer.wasm)
"""

import math
import struct
from array import array

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.mixer import MixRequest, MixResponse, Placement
from wit_world.imports import audio_sink, audio_source
from wit_world.imports.types import (
    AudioEncoding,
    AudioFormat,
    Cost,
    ErrorKind,
    ProviderError,
    Quantity,
    Usage,
    UsageUnit,
)

# Bytes asked of `audio-source` and handed to `audio-sink` at a time.
CHUNK = 1 << 20


class Mixer(exports.Mixer):
    def mix(self, request: MixRequest) -> MixResponse:
        settings = request.settings
        channels, rate = settings.channels, settings.sample_rate
        if channels not in (1, 2) or rate == 0:
            raise failure(ErrorKind.INVALID_REQUEST, "channels must be 1 or 2 and the sample rate above 0")
        clips = [read_clip(clip.source, rate, channels, clip.gain_db) for clip in request.clips]

        def frames_of(ms: int) -> int:
            return ms * rate // 1000

        # The layout first: the WAV header states the total length before any sample.
        at = frames_of(settings.padding_ms)
        starts, placements = [], []
        for index, (clip, samples) in enumerate(zip(request.clips, clips)):
            if index > 0:
                gap = clip.gap_before_ms if clip.gap_before_ms is not None else settings.gap_ms
                at += frames_of(gap)
            starts.append(at)
            start_ms = at * 1000 // rate
            at += len(samples) // channels
            placements.append(Placement(index, start_ms, at * 1000 // rate))
        total_frames = at + frames_of(settings.padding_ms)
        data_bytes = total_frames * channels * 2
        if data_bytes > 0xFFFFFFFF - 44:
            raise failure(ErrorKind.INVALID_REQUEST, "the episode is too long for a WAV file")

        write(wav_header(rate, channels, data_bytes))
        written, sum_of_squares, peak = 0, 0.0, 1
        for start, samples in zip(starts, clips):
            write_silence((start - written) * channels * 2)
            written = start + len(samples) // channels
            if samples:
                sum_of_squares += math.fsum(value * value for value in samples)
                peak = max(peak, max(samples), -min(samples))
            write(samples.tobytes())
        write_silence((total_frames - written) * channels * 2)

        # An RMS level, not a true EBU R128 measurement: replace it with a loudness meter.
        rms = math.sqrt(sum_of_squares / max(total_frames * channels, 1)) / 32768
        episode_ms = total_frames * 1000 // rate
        clip_ms = sum(len(samples) // channels for samples in clips) * 1000 // rate
        return MixResponse(
            format=AudioFormat(AudioEncoding.WAV_PCM16, rate, channels),
            duration_ms=episode_ms,
            integrated_lufs=20 * math.log10(max(rms, 1e-9)),
            true_peak_dbtp=20 * math.log10(min(peak, 32767) / 32768),
            placements=placements,
            usage=Usage(
                Quantity(clip_ms, UsageUnit.AUDIO_MILLISECONDS),
                Quantity(episode_ms, UsageUnit.AUDIO_MILLISECONDS),
            ),
            cost=Cost(0, "USD"),
        )


def read_clip(source: int, rate: int, channels: int, gain_db: float) -> array:
    """A clip as 16-bit samples in the output's rate and channel layout, with its gain applied."""
    try:
        size = audio_source.size(source)
        data = bytearray()
        while len(data) < size:
            chunk = audio_source.read(source, len(data), CHUNK)
            if not chunk:
                break
            data += chunk
    except Err as error:
        raise failure(ErrorKind.INTERNAL, f"input {source}: {error.value}")
    clip_rate, clip_channels, pcm = decode_wav(source, bytes(data))
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % (2 * clip_channels)])
    samples = converted(samples, clip_rate, clip_channels, rate, channels)
    if gain_db != 0:
        gain = 10 ** (gain_db / 20)
        samples = array("h", (max(-32768, min(32767, int(value * gain))) for value in samples))
    return samples


def converted(samples: array, clip_rate: int, clip_channels: int, rate: int, channels: int) -> array:
    """The samples at `rate` with `channels`: a stereo clip averaged for mono, the rate changed
    by linear interpolation (clean for speech upsampled; downsampling music by a large factor
    wants a low-pass filter first), then a mono clip spread over both channels. Channels are
    reduced before and spread after the rate changes, so the Python loop runs on the fewest
    samples, and the spreading is slicing, which runs in C."""
    if channels == 1 and clip_channels > 1:
        frames = zip(*(samples[channel::clip_channels] for channel in range(clip_channels)))
        samples, clip_channels = array("h", (sum(frame) // clip_channels for frame in frames)), 1
    if clip_rate != rate:
        samples = resampled(samples, clip_channels, clip_rate, rate)
    if clip_channels == channels:
        return samples
    frames = len(samples) // clip_channels
    spread = array("h", bytes(2 * frames * channels))
    for channel in range(channels):
        spread[channel::channels] = samples[channel % clip_channels :: clip_channels]
    return spread


def resampled(samples: array, channels: int, clip_rate: int, rate: int) -> array:
    """Interleaved `samples` from `clip_rate` to `rate`, by linear interpolation."""
    source_frames = len(samples) // channels
    last = source_frames - 1
    out = array("h")
    for index in range(source_frames * rate // clip_rate):
        # Where output frame `index` falls in the clip: a whole frame and a fraction.
        before, remainder = divmod(index * clip_rate, rate)
        fraction = remainder / rate
        at, next_at = before * channels, min(before + 1, last) * channels
        for channel in range(channels):
            a = samples[at + channel]
            out.append(round(a + (samples[next_at + channel] - a) * fraction))
    return out


def decode_wav(source: int, data: bytes) -> tuple:
    """The sample rate, channels and PCM bytes of a 16-bit PCM WAV."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise failure(ErrorKind.INVALID_REQUEST, f"input {source} is not a WAV file")
    at, fmt = 12, None
    while at + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, at)
        body = data[at + 8 : at + 8 + size]
        if kind == b"fmt " and len(body) >= 16:
            fmt = struct.unpack_from("<HHIIHH", body)
        elif kind == b"data" and fmt is not None:
            tag, clip_channels, clip_rate, _, _, bits = fmt
            if tag != 1 or bits != 16:
                raise failure(ErrorKind.INVALID_REQUEST, f"input {source} is not 16-bit PCM")
            if clip_channels == 0 or clip_rate == 0:
                raise failure(ErrorKind.INVALID_REQUEST, f"input {source} has no channels or no sample rate")
            return clip_rate, clip_channels, body
        at += 8 + size + size % 2
    raise failure(ErrorKind.INVALID_REQUEST, f"input {source} has no fmt and data chunks")


def wav_header(rate: int, channels: int, data_bytes: int) -> bytes:
    """The canonical 44-byte header of 16-bit PCM."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels,
                       rate, rate * channels * 2, channels * 2, 16, b"data", data_bytes)


def write(data: bytes) -> None:
    for at in range(0, len(data), CHUNK):
        try:
            audio_sink.write(data[at : at + CHUNK])
        except Err as error:
            raise failure(ErrorKind.INTERNAL, f"output: {error.value}")


def write_silence(count: int) -> None:
    while count > 0:
        now = min(count, CHUNK)
        write(bytes(now))
        count -= now


def failure(kind: ErrorKind, message: str) -> Err:
    """The error the host records; a mixer's failures repeat, so none is retryable."""
    return Err(ProviderError(kind, False, message, None))
