"""A TTS plugin in Python that speaks each word as a short tone: a working skeleton that shows
what the host expects (a 16-bit PCM WAV whose header matches the stated format and duration,
usage in characters and milliseconds, a cost), ready to have the tone replaced by a real voice
(a local model, or a TTS server reached over wasi:http like the python-llm template).

Settings, read from the environment the host grants (see README.md):
  TTS_USD_PER_MILLION_CHARACTERS  price, for the reported cost (default 0)

Build: ./build.sh (componentize-py -d wit -w tts-http-provider componentize app -o python-tts.wasm)
"""

import math
import os
import struct

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.tts import SynthesizeRequest, SynthesizeResponse, Voice
from wit_world.imports.pipeline_services_types import (
    AudioEncoding,
    AudioFormat,
    Cost,
    ErrorKind,
    ProviderError,
    Quantity,
    Usage,
    UsageUnit,
)

SAMPLE_RATE = 24000
# Pitch in Hz per voice id; the show blueprints name these ids.
VOICES = {"aria": 262.0, "basil": 196.0, "cora": 330.0, "dmitri": 147.0, "elena": 294.0, "felix": 220.0}


class Tts(exports.Tts):
    def list_voices(self) -> list:
        return [Voice(id, id.title(), f"a {pitch:.0f} Hz tone", "en-US") for id, pitch in VOICES.items()]

    def synthesize(self, request: SynthesizeRequest) -> SynthesizeResponse:
        if request.voice not in VOICES:
            raise Err(ProviderError(ErrorKind.INVALID_REQUEST, False, f"unknown voice {request.voice}", None))
        speed = request.speed if request.speed > 0 else 1.0
        samples = bytearray()
        for word in request.text.split():
            samples += tone(VOICES[request.voice], 60 * len(word) / speed)
            samples += bytes(2 * int(SAMPLE_RATE * 0.08 / speed))
        frames = len(samples) // 2
        wav = wav_header(frames) + bytes(samples)
        duration_ms = frames * 1000 // SAMPLE_RATE
        characters = len(request.text)
        price = float(os.environ.get("TTS_USD_PER_MILLION_CHARACTERS", "0"))
        return SynthesizeResponse(
            audio=wav,
            format=AudioFormat(AudioEncoding.WAV_PCM16, SAMPLE_RATE, 1),
            duration_ms=duration_ms,
            usage=Usage(
                Quantity(characters, UsageUnit.CHARACTERS),
                Quantity(duration_ms, UsageUnit.AUDIO_MILLISECONDS),
            ),
            cost=Cost(round(characters * price), "USD"),
        )


def tone(pitch: float, milliseconds: float) -> bytes:
    frames = int(SAMPLE_RATE * milliseconds / 1000)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * pitch * i / SAMPLE_RATE))) for i in range(frames)
    )


def wav_header(frames: int) -> bytes:
    """The canonical 44-byte header of mono 16-bit PCM."""
    data = frames * 2
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data, b"WAVE", b"fmt ", 16, 1, 1,
                       SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16, b"data", data)
