/**
 * The ACP agent fixture (test/fixtures/acp-agent.mjs) checked with the SDK's own client side, so
 * tests that drive it through atomvisor can trust what it sends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import * as acp from '@agentclientprotocol/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, isAlive, waitUntil } from '../helpers/processes.ts';

const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await waitUntil(() => !isAlive(child.pid!), `agent ${child.pid} is gone`);
  }
});

function startAgent(env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [fixture('acp-agent.mjs')], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stream = acp.ndJsonStream(
    Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>,
    Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>,
  );
  return { child, stream, exited };
}

describe('acp-agent fixture (with the SDK client)', () => {
  it('streams 5 tagged chunks per prompt, asks permission once, and returns the chosen option', async () => {
    const { child, stream, exited } = startAgent();
    const updates: acp.SessionNotification[] = [];
    const asked: acp.RequestPermissionRequest[] = [];
    const app = acp
      .client({ name: 'fixture-test' })
      .onRequest(acp.methods.client.session.requestPermission, ({ params }) => {
        asked.push(params);
        const optionId = params.toolCall.toolCallId.endsWith('-1#1') ? 'allow' : 'reject';
        return { outcome: { outcome: 'selected', optionId } };
      })
      .onNotification(acp.methods.client.session.update, ({ params }) => {
        updates.push(params);
      });
    const result = await app.connectWith(stream, async (agent) => {
      const init = await agent.request(acp.methods.agent.initialize, {
        protocolVersion: acp.PROTOCOL_VERSION,
        clientCapabilities: {},
      });
      const one = await agent.request(acp.methods.agent.session.new, {
        cwd: process.cwd(),
        mcpServers: [],
      });
      const two = await agent.request(acp.methods.agent.session.new, {
        cwd: process.cwd(),
        mcpServers: [],
      });
      const prompt = (sessionId: string, text: string) =>
        agent.request(acp.methods.agent.session.prompt, {
          sessionId,
          prompt: [{ type: 'text', text }],
        });
      const [first, second] = await Promise.all([
        prompt(one.sessionId, 'first'),
        prompt(two.sessionId, 'second'),
      ]);
      return { init, one: one.sessionId, two: two.sessionId, first, second };
    });
    expect(result.init).toMatchObject({
      protocolVersion: 1,
      agentInfo: { name: 'acp-agent-fixture' },
    });
    expect(result.one).toBe(`session-${child.pid}-1`);
    expect(result.first).toEqual({
      stopReason: 'end_turn',
      _meta: { permission: 'allow', prompt: 'first', chunks: 5 },
    });
    expect(result.second).toEqual({
      stopReason: 'end_turn',
      _meta: { permission: 'reject', prompt: 'second', chunks: 5 },
    });
    for (const [sessionId, prompt] of [
      [result.one, 'first'],
      [result.two, 'second'],
    ] as const) {
      const mine = updates.filter((u) => u.sessionId === sessionId).map((u) => u.update);
      expect(mine).toEqual(
        [1, 2, 3, 4, 5].map((chunk) => ({
          sessionUpdate: 'agent_message_chunk',
          content: { type: 'text', text: `chunk ${chunk}` },
          messageId: `${sessionId}#1`,
          _meta: { prompt, chunk },
        })),
      );
    }
    expect(asked.map((a) => [a.sessionId, a.options.map((o) => o.optionId)])).toEqual([
      [result.one, ['allow', 'reject']],
      [result.two, ['allow', 'reject']],
    ]);
    // The agent exits cleanly at stdin EOF (connectWith does not end the child's stdin).
    child.stdin!.end();
    let code: number | null | undefined;
    void exited.then((c) => {
      code = c;
    });
    await waitUntil(() => code !== undefined, 'the agent exits after stdin EOF');
    expect(code).toBe(0);
  });

  it('session/cancel ends a running prompt with stopReason cancelled', async () => {
    const { stream } = startAgent({ ACP_AGENT_CHUNK_DELAY_MS: '50' });
    const chunks: string[] = [];
    const app = acp
      .client({ name: 'fixture-test' })
      .onNotification(acp.methods.client.session.update, async ({ params, agent }) => {
        chunks.push(params.update.sessionUpdate);
        if (chunks.length === 1) {
          await agent.notify(acp.methods.agent.session.cancel, { sessionId: params.sessionId });
        }
      });
    const response = await app.connectWith(stream, async (agent) => {
      await agent.request(acp.methods.agent.initialize, {
        protocolVersion: acp.PROTOCOL_VERSION,
        clientCapabilities: {},
      });
      const { sessionId } = await agent.request(acp.methods.agent.session.new, {
        cwd: process.cwd(),
        mcpServers: [],
      });
      return agent.request(acp.methods.agent.session.prompt, {
        sessionId,
        prompt: [{ type: 'text', text: 'stop me' }],
      });
    });
    expect(response.stopReason).toBe('cancelled');
    expect(chunks.length).toBeLessThan(5);
  });
});
