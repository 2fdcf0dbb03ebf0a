/**
 * Example stdio JSON-RPC server: an in-memory key-value store (one per process, so replicas do
 * not share it: use a lease when a client needs to read its own writes).
 *   initialize, ping, pid, get {key}, set {key, value}, keys
 */
import process from 'node:process';
import { log, serve } from './jsonrpc.mjs';

const store = new Map();

serve({
  initialize: () => ({
    protocolVersion: '2025-06-18',
    capabilities: {},
    serverInfo: { name: 'kv-server', version: '1.0.0' },
  }),
  ping: () => ({}),
  pid: () => process.pid,
  get: ({ key }) => ({ key, value: store.get(key) ?? null }),
  set: ({ key, value }) => {
    store.set(key, value);
    return { key, size: store.size };
  },
  keys: () => [...store.keys()],
});
log('kv-server up');
