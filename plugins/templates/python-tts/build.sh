#!/bin/sh
# Builds python-tts.wasm from app.py (needs componentize-py: `pip install componentize-py`).
exec componentize-py -d wit -w tts-http-provider componentize app -o python-tts.wasm
