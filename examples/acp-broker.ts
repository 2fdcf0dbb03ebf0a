/**
 * Example: an ACP (Agent Client Protocol) broker. Agent processes run as a pool; each chat session
 * holds one lease, so its agent's `session/update` notifications stream to that session's handler
 * only, and the agent's `session/request_permission` requests are answered by a policy for the
 * session's user. Two sessions run at once, on two replicas.
 *
 *   npm install atomvisor tsx
 *   cp -r node_modules/atomvisor/examples . && npx tsx examples/acp-broker.ts
 *   npx tsx examples/acp-broker.ts my-agent --acp     # any ACP agent command (default:
 *                                                     # examples/servers/acp-agent.mjs)
 *
 * test/package/examples.test.ts runs it from the packed tarball, with an agent built on
 * @agentclientprotocol/sdk.
 */
import { fileURLToPath } from 'node:url';
import { createCoordinator } from 'atomvisor';

// The agent's command line: this script's arguments, or the example agent.
const exampleAgent = fileURLToPath(new URL('./servers/acp-agent.mjs', import.meta.url));
const command = process.argv[2] ?? process.execPath;
const args = process.argv[2] === undefined ? [exampleAgent] : process.argv.slice(3);

interface PermissionRequest {
  toolCall: { title?: string; kind?: string };
  options: { optionId: string; kind: string }[];
}
interface SessionUpdate {
  sessionId: string;
  update: { sessionUpdate: string; content?: { type: string; text?: string } };
}

/** The policy: reading is always allowed; anything else only for users who may edit. */
function decide(
  user: { name: string; mayEdit: boolean },
  { toolCall, options }: PermissionRequest,
) {
  const allow = toolCall.kind === 'read' || user.mayEdit;
  const option = options.find((o) => o.kind === (allow ? 'allow_once' : 'reject_once'));
  console.log(`[${user.name}] permission for "${toolCall.title}": ${option?.kind}`);
  return option === undefined
    ? { outcome: { outcome: 'cancelled' } }
    : { outcome: { outcome: 'selected', optionId: option.optionId } };
}

const coordinator = createCoordinator();
await coordinator.register(
  'agent',
  {
    command,
    args,
    initialize: { method: 'initialize', params: { protocolVersion: 1, clientCapabilities: {} } },
  },
  { replicas: 2 },
);

/** One chat session: a lease on one agent process for the whole conversation. */
function chat(user: { name: string; mayEdit: boolean }, text: string) {
  return coordinator.withConnection('agent', async (lease) => {
    const { sessionId } = await lease.request<{ sessionId: string }>('session/new', {
      cwd: process.cwd(),
      mcpServers: [],
    });
    console.log(`[${user.name}] ${sessionId} on replica ${lease.replica} (pid ${lease.pid})`);
    // Only this session's agent reaches these handlers, and only while the lease is held.
    lease.onNotification('session/update', (params) => {
      const { sessionId: from, update } = params as SessionUpdate;
      if (update.sessionUpdate === 'agent_message_chunk' && update.content?.type === 'text')
        console.log(`[${user.name}] ${from}: ${update.content.text?.trim()}`);
    });
    lease.onRequest('session/request_permission', (params) =>
      decide(user, params as PermissionRequest),
    );
    const { stopReason } = await lease.request<{ stopReason: string }>(
      'session/prompt',
      { sessionId, prompt: [{ type: 'text', text }] },
      { timeoutMs: 120_000 }, // a real agent thinks for a while
    );
    console.log(`[${user.name}] turn ended: ${stopReason}`);
  });
}

await Promise.all([
  chat({ name: 'ada', mayEdit: true }, 'Fix the typo in the README'),
  chat({ name: 'bob', mayEdit: false }, 'Rewrite the README'),
]);
await coordinator.close();
