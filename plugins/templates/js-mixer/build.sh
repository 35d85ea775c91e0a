#!/bin/sh
# Builds js-mixer.wasm from plugin.js (needs componentize-js: `npm install @bytecodealliance/componentize-js`).
# `-d http -d fetch-event` leaves out HTTP, which a mixer never uses.
exec componentize-js --wit wit --world-name mixer-provider -d http -d fetch-event -o js-mixer.wasm plugin.js
