#!/usr/bin/env bash
# Installs the toolchains that build Python and JavaScript plugins, pinned, into one cache
# directory: componentize-py (PyPI) in a virtualenv and componentize-js (npm). Running it again
# installs nothing when the pinned versions are already there. The tests that build plugins
# look in the same directory ($PLUGIN_TOOLCHAINS, default ~/.cache/pipeline-plugin-toolchains).
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
COMPONENTIZE_JS_VERSION=0.23.0
root="${PLUGIN_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-plugin-toolchains}"
mkdir -p "$root"

if [ "$("$root/py/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    python3 -m venv "$root/py"
    "$root/py/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

if [ "$("$root/js/node_modules/.bin/componentize-js" --version 2>/dev/null)" != "$COMPONENTIZE_JS_VERSION" ]; then
    mkdir -p "$root/js"
    npm install --prefix "$root/js" --no-audit --no-fund --loglevel=error \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION"
fi

echo "plugin toolchains in $root:"
echo "  $("$root/py/bin/componentize-py" --version)"
echo "  componentize-js $("$root/js/node_modules/.bin/componentize-js" --version)"
