#!/bin/sh
# Builds js-image.wasm from plugin.js (needs componentize-js: `npm install @bytecodealliance/componentize-js`).
# `-d fetch-event` leaves out the incoming-HTTP handler a plugin never serves; fetch() stays.
exec componentize-js --wit wit --world-name image-http-provider -d fetch-event -o js-image.wasm plugin.js
