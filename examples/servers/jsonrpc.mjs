/**
 * A minimal newline-delimited JSON-RPC 2.0 loop over stdio (the MCP stdio framing), shared by the
 * example servers. No dependencies. Requests run concurrently; a handler's return value is the
 * result, a thrown error an error response. Logs go to stderr: stdout carries only protocol.
 */
import process from 'node:process';

export function log(...args) {
  process.stderr.write(`[${process.pid}] ${args.join(' ')}\n`);
}

export function serve(handlers) {
  const send = (message) =>
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  const dispatch = async ({ id, method, params }) => {
    if (id === undefined) return; // notifications (initialized, cancelled): nothing to answer
    const handler = handlers[method];
    if (handler === undefined) {
      send({ id, error: { code: -32601, message: `method not found: ${method}` } });
      return;
    }
    try {
      send({ id, result: (await handler(params ?? {})) ?? null });
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
