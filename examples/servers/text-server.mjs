/**
 * Example stdio JSON-RPC server: small text tools. `--ready-after MS` makes its `health` method
 * fail until MS after start (a server that warms up: a startup probe on `health` holds it out of
 * service until then).
 *   initialize, ping, health, pid, upper {text}, words {text}, sleep {ms}
 */
import process from 'node:process';
import { flag, log, serve } from './jsonrpc.mjs';

const started = performance.now();
const readyAfterMs = Number(flag('ready-after', '0'));

serve({
  initialize: () => ({
    protocolVersion: '2025-06-18',
    capabilities: {},
    serverInfo: { name: 'text-server', version: '1.0.0' },
  }),
  ping: () => ({}),
  health: () => {
    const left = readyAfterMs - (performance.now() - started);
    if (left > 0) throw new Error(`warming up, ${Math.ceil(left)} ms to go`);
    return { ok: true };
  },
  pid: () => process.pid,
  upper: ({ text = '' }) => ({ text: String(text).toUpperCase(), pid: process.pid }),
  words: ({ text = '' }) => ({ words: String(text).split(/\s+/).filter(Boolean).length }),
  sleep: ({ ms = 0 }) => new Promise((resolve) => setTimeout(() => resolve({ slept: ms }), ms)),
});
log(`text-server up${readyAfterMs > 0 ? `, ready after ${readyAfterMs} ms` : ''}`);
