/**
 * Example: an MCP server that asks its client for an LLM completion (sampling) and sends log
 * messages, supervised by atomvisor. The application answers `sampling/createMessage` with a
 * handler (where your model call would go) and hears `notifications/message` with another.
 *
 *   npm install atomvisor tsx @modelcontextprotocol/server-everything
 *   cp -r node_modules/atomvisor/examples . && npx tsx examples/mcp-sampling.ts
 *   npx tsx examples/mcp-sampling.ts node path/to/server.js stdio   # another server command
 *
 * test/package/examples.test.ts runs it from the packed tarball.
 */
import { createCoordinator } from 'atomvisor';

// The server's command line: this script's arguments, or the package's bin (npx puts it on PATH).
const command = process.argv[2] ?? 'mcp-server-everything';
const args = process.argv[2] === undefined ? ['stdio'] : process.argv.slice(3);

interface CreateMessage {
  messages: { role: string; content: { type: string; text?: string } }[];
  maxTokens: number;
}

const coordinator = createCoordinator();
// Added before register: they serve every replica, restarts included.
coordinator.onRequest('everything', 'sampling/createMessage', async (params, ctx) => {
  const { messages } = params as CreateMessage;
  const question = messages.at(-1)?.content.text ?? '';
  console.log(`sampling asked by pid ${ctx.pid}: "${question}"`);
  // Call your model here (ctx.signal aborts if the server gives up); this one answers by rule.
  return {
    role: 'assistant',
    content: { type: 'text', text: `A model would answer "${question}" here.` },
    model: 'example-rule',
    stopReason: 'endTurn',
  };
});
let heardLog = () => {};
const logged = new Promise<void>((resolve) => {
  heardLog = resolve;
});
coordinator.onNotification('everything', 'notifications/message', (params) => {
  const { level, data } = params as { level: string; data: unknown };
  console.log(`server log [${level}]: ${typeof data === 'string' ? data : JSON.stringify(data)}`);
  heardLog();
});

await coordinator.register('everything', {
  command,
  args,
  initialize: {
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: { sampling: {} }, // we answer sampling/createMessage
      clientInfo: { name: 'mcp-sampling-example', version: '1' },
    },
    notification: { method: 'notifications/initialized' },
  },
});

type ToolResult = { content: { type: string; text?: string }[] };
const call = (name: string, args: Record<string, unknown> = {}) =>
  coordinator.request<ToolResult>('everything', 'tools/call', { name, arguments: args });

const sampled = await call('trigger-sampling-request', {
  prompt: 'What is atomvisor?',
  maxTokens: 50,
});
console.log(`tool result: ${sampled.content.map((c) => c.text).join('')}`);

await coordinator.request('everything', 'logging/setLevel', { level: 'debug' });
await call('toggle-simulated-logging'); // it logs at once, then every 5 s
await logged;
await call('toggle-simulated-logging'); // and off again
await coordinator.close();
