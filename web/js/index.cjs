// The Node entry (CommonJS): the nodejs build loads its wasm synchronously,
// so `init` has nothing to do; it exists so that the same code runs in
// browsers (where `await init()` loads the wasm) and in Node.
'use strict';
const m = require('./allot_web.js');
const init = async () => undefined;
module.exports = { ...m, init, initSync: () => undefined, default: init };
