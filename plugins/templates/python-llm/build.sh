#!/bin/sh
# Builds python-llm.wasm from app.py (needs componentize-py: `pip install componentize-py`).
exec componentize-py -d wit -w llm-http-provider componentize app -o python-llm.wasm
