#!/bin/sh
# Builds js-llm.wasm from plugin.js (needs componentize-js: `npm install @bytecodealliance/componentize-js`).
# `-d fetch-event` leaves out the incoming-HTTP handler a plugin never serves; fetch() stays.
exec componentize-js --wit wit --world-name llm-http-provider -d fetch-event -o js-llm.wasm plugin.js
