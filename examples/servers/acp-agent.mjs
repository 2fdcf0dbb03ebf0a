/**
 * Example ACP agent (Agent Client Protocol: newline-delimited JSON-RPC on stdio), dependency-free:
 * just enough of the protocol for examples/acp-broker.ts. A real agent (Claude Code, Gemini CLI,
 * Codex through their ACP adapters) answers the same calls with a model behind them.
 *   initialize, session/new {cwd}, session/prompt {sessionId, prompt}: streams its reply as
 *   session/update agent_message_chunk notifications, asks session/request_permission before
 *   its one tool call (an edit), then ends the turn.
 */
import process from 'node:process';
import { log, serve } from './jsonrpc.mjs';

let sessions = 0;

serve({
  initialize: () => ({
    protocolVersion: 1,
    agentCapabilities: { loadSession: false },
    agentInfo: { name: 'example-agent', version: '1.0.0' },
  }),
  'session/new': () => ({ sessionId: `session-${process.pid}-${++sessions}` }),
  'session/prompt': async ({ sessionId, prompt }, client) => {
    const text = prompt.map((block) => block.text ?? '').join('');
    const update = (u) => client.notify('session/update', { sessionId, update: u });
    for (const word of `I will write down: ${text}`.split(' '))
      update({ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: `${word} ` } });
    const toolCall = { toolCallId: `${sessionId}-notes`, title: 'Write notes.md', kind: 'edit' };
    update({ sessionUpdate: 'tool_call', ...toolCall, status: 'pending' });
    const { outcome } = await client.request('session/request_permission', {
      sessionId,
      toolCall,
      options: [
        { optionId: 'allow', name: 'Allow', kind: 'allow_once' },
        { optionId: 'reject', name: 'Reject', kind: 'reject_once' },
      ],
    });
    const allowed = outcome.outcome === 'selected' && outcome.optionId === 'allow';
    update({
      sessionUpdate: 'tool_call_update',
      toolCallId: toolCall.toolCallId,
      status: allowed ? 'completed' : 'failed',
    });
    return { stopReason: 'end_turn' };
  },
});
log('example ACP agent up');
