#!/bin/sh
# Builds python-image.wasm from app.py (needs componentize-py: `pip install componentize-py`).
exec componentize-py -d wit -w image-provider componentize app -o python-image.wasm
