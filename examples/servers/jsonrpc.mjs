/**
 * A minimal newline-delimited JSON-RPC 2.0 loop over stdio (the MCP stdio framing), shared by the
 * example servers. No dependencies. Requests run concurrently; a handler's return value is the
 * result, a thrown error an error response. Logs go to stderr: stdout carries only protocol.
 * A handler gets `(params, client)`: `client.notify(method, params)` and
 * `client.request(method, params)` talk back to the client (a server is a peer, too).
 */
import process from 'node:process';

export function log(...args) {
  process.stderr.write(`[${process.pid}] ${args.join(' ')}\n`);
}

export function serve(handlers) {
  const send = (message) =>
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  // Requests of ours to the client, by id, until it answers.
  const asked = new Map();
  let nextId = 0;
  const client = {
    notify: (method, params) => send({ method, params }),
    request: (method, params) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        asked.set(id, { resolve, reject });
        send({ id, method, params });
      }),
  };
  const dispatch = async ({ id, method, params, result, error }) => {
    if (method === undefined) {
      // The client's answer to one of our requests.
      const pending = asked.get(id);
      asked.delete(id);
      if (error !== undefined) pending?.reject(Object.assign(new Error(error.message), error));
      else pending?.resolve(result);
      return;
    }
    if (id === undefined) return; // notifications (initialized, cancelled): nothing to answer
    const handler = handlers[method];
    if (handler === undefined) {
      send({ id, error: { code: -32601, message: `method not found: ${method}` } });
      return;
    }
    try {
      send({ id, result: (await handler(params ?? {}, client)) ?? null });
    } catch (error) {
      send({ id, error: { code: error.rpcCode ?? -32603, message: error.message } });
    }
  };
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      try {
        void dispatch(JSON.parse(line));
      } catch {
        send({ id: null, error: { code: -32700, message: 'parse error' } });
      }
    }
  });
  // stdin EOF is the polite way to be told to stop (atomvisor ends stdin first).
  process.stdin.on('end', () => process.exit(0));
}

/** `--name value` from argv, or the fallback. */
export function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}
