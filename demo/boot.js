// Loads the page's wasm (trunk's inline loader is switched off so that the
// page runs under a CSP without 'unsafe-inline'; see Trunk.toml).
import init from '/allot-demo.js';

await init({ module_or_path: '/allot-demo_bg.wasm' });
