#!/bin/sh
# Builds python-mixer.wasm from app.py (needs componentize-py: `pip install componentize-py`).
exec componentize-py -d wit -w mixer-provider componentize app -o python-mixer.wasm
