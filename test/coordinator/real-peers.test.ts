/**
 * Issue 12's acceptance against real servers, not fixtures written for atomvisor: real processes,
 * no mocks, each through the coordinator's public API.
 *
 * - typescript-language-server (protocol 'lsp', 2 replicas): the initialize/initialized handshake
 *   in onStart; workspace/configuration (spec.onRequest) and window/workDoneProgress/create
 *   (coordinator.onRequest, added before register) answered; didOpen + hover on a lease; the
 *   TS2322 publishDiagnostics reaching lease.onNotification; a SIGKILLed replica restarted,
 *   handshaken again and serving hover. Its tsserver children die with it and on close.
 * - The ACP agent on @agentclientprotocol/sdk (test/fixtures/acp-agent.mjs): a prompt's 5
 *   session/update chunks reach the session's lease in order, the permission policy is asked once
 *   and its answer reaches the agent; two sessions on two leases prompted at once each see only
 *   their own updates.
 * - @modelcontextprotocol/server-everything: trigger-sampling-request returns what the
 *   sampling/createMessage handler produced; notifications/message reaches onNotification after
 *   logging/setLevel.
 *
 * Facts about these servers (ids, timings, what crashes them): /work/notes/real-servers.md and
 * the comments below. Deadlines are generous: the language server takes seconds on a loaded
 * machine.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Coordinator, Lease, PeerContext, StartingConnection } from '../../src/index.ts';
import { liveMembers } from '../../src/io/process-group.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';
import { fixture, groupAlive, isAlive, waitUntil } from '../helpers/processes.ts';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const LSP_CLI = join(packageDir('typescript-language-server'), 'lib', 'cli.mjs');
/** TypeScript 7 (the repo's compiler) ships no tsserver.js: the server gets TypeScript 5's. */
const TSSERVER = require.resolve('typescript5/lib/tsserver.js');
const EVERYTHING = join(packageDir('@modelcontextprotocol/server-everything'), 'dist', 'index.js');
const WORKSPACE = fixture('lsp-workspace');
const MAIN_URI = pathToFileURL(join(WORKSPACE, 'main.ts')).href;
const MAIN_TEXT = readFileSync(join(WORKSPACE, 'main.ts'), 'utf8');

const coordinators = coordinatorsFor({
  startTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  stop: { stdinGraceMs: 500, termGraceMs: 1_000 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});

/** Every process group a coordinator started, and processes seen in them, to check after close. */
const groups: number[] = [];
const members: number[] = [];
function trackGroups(c: Coordinator): void {
  c.on('spawn', (e) => groups.push(e.pid));
}

afterEach(async () => {
  await coordinators.closeAll();
  const pgids = groups.splice(0);
  const pids = members.splice(0);
  await waitUntil(
    () => pgids.every((pgid) => !groupAlive(pgid)) && pids.every((pid) => !isAlive(pid)),
    `nothing is left of the groups ${JSON.stringify(pgids)} and processes ${JSON.stringify(pids)}`,
    5_000,
  );
});

describe('typescript-language-server (protocol lsp)', () => {
  const initializeParams = {
    processId: process.pid,
    clientInfo: { name: 'atomvisor-test', version: '1' },
    rootUri: pathToFileURL(WORKSPACE).href,
    workspaceFolders: [{ uri: pathToFileURL(WORKSPACE).href, name: 'lsp-workspace' }],
    initializationOptions: {
      tsserver: { path: TSSERVER, useSyntaxServer: 'never' },
      disableAutomaticTypingAcquisition: true, // no registry access, fewer processes
    },
    capabilities: {
      workspace: { configuration: true },
      window: { workDoneProgress: true },
      textDocument: {
        hover: { contentFormat: ['markdown', 'plaintext'] },
        // Without this the server never publishes diagnostics.
        publishDiagnostics: { relatedInformation: true },
      },
    },
  };
  const hoverText = (hover: unknown) =>
    String((hover as { contents?: { value?: unknown } } | null)?.contents?.value ?? '');
  type Diagnostics = {
    uri: string;
    diagnostics: { code: number; message: string; range: { start: { line: number } } }[];
  };

  /** Open main.ts on the lease and hover `greeting` (line 15 of main.ts). */
  async function openAndHover(lease: Lease): Promise<string> {
    await lease.notify('textDocument/didOpen', {
      textDocument: {
        uri: MAIN_URI,
        languageId: 'typescript',
        version: 1,
        text: MAIN_TEXT,
      },
    });
    // Answered once the project has loaded (seconds under load).
    const hover = await lease.request('textDocument/hover', {
      textDocument: { uri: MAIN_URI },
      position: { line: 14, character: 13 },
    });
    return hoverText(hover);
  }

  it('handshakes 2 replicas, answers their requests, hovers and gets the TS2322 diagnostic on a lease; a SIGKILLed replica comes back handshaken', async () => {
    const c = coordinators.make();
    trackGroups(c);
    const configurationAsks: PeerContext[] = [];
    const progressCreates: PeerContext[] = [];
    // Added before register: answers during the start handshake and after. An error answer to
    // this one crashes typescript-language-server, so it must be answered (with null).
    c.onRequest('ts', 'window/workDoneProgress/create', (_params, ctx) => {
      progressCreates.push(ctx);
      return null;
    });
    const handshakes: { pid: number; capabilities: Record<string, unknown> }[] = [];
    await c.register(
      'ts',
      {
        command: process.execPath,
        args: [LSP_CLI, '--stdio'],
        cwd: WORKSPACE,
        protocol: 'lsp',
        onStart: async (connection: StartingConnection) => {
          const result = (await connection.request('initialize', initializeParams)) as {
            capabilities: Record<string, unknown>;
          };
          await connection.notify('initialized', {});
          handshakes.push({ pid: connection.pid, capabilities: result.capabilities });
          return result;
        },
        onRequest: {
          // { items: [{ scopeUri, section }] } → one entry per item (null: the defaults).
          'workspace/configuration': (params: unknown, ctx: PeerContext) => {
            configurationAsks.push(ctx);
            return (params as { items: unknown[] }).items.map(() => null);
          },
        },
      },
      { replicas: 2 },
    );
    const first = c.snapshot('ts').replicas.map((r) => r.pid as number);
    expect(handshakes.map((h) => h.pid).sort()).toEqual([...first].sort());
    for (const h of handshakes) expect(h.capabilities).toMatchObject({ hoverProvider: true });

    // Both replicas at once, one lease each: each opens the file, hovers, and hears its own
    // diagnostics through its lease.
    const leases = await Promise.all([c.acquire('ts'), c.acquire('ts')]);
    expect(leases.map((l) => l.replica).sort()).toEqual([0, 1]);
    const published = leases.map(() => [] as Diagnostics[]);
    const heardBy = new Set<unknown>();
    for (const [i, lease] of leases.entries()) {
      lease.onNotification('textDocument/publishDiagnostics', (params, ctx) => {
        heardBy.add(ctx.lease === lease ? lease : 'another lease');
        published[i]?.push(params as Diagnostics);
      });
    }
    const hovers = await Promise.all(leases.map(openAndHover));
    for (const text of hovers) expect(text).toContain('const greeting: Greeting');
    // The first publish has no diagnostics yet: wait for the one with the error.
    const withError = (i: number) =>
      published[i]?.find((p) => p.uri === MAIN_URI && p.diagnostics.length > 0);
    await waitUntil(
      () => withError(0) !== undefined && withError(1) !== undefined,
      'both leases heard the TS2322 diagnostic',
      60_000,
    );
    for (const i of [0, 1]) {
      expect(withError(i)?.diagnostics).toEqual([
        expect.objectContaining({
          code: 2322,
          message: "Type 'string' is not assignable to type 'number'.",
          range: expect.objectContaining({ start: { line: 16, character: 13 } }),
        }),
      ]);
    }
    expect(heardBy).toEqual(new Set(leases));
    // The server asked for its configuration on both replicas, and the handlers saw whose it was.
    expect(new Set(configurationAsks.map((ctx) => ctx.pid))).toEqual(new Set(first));
    for (const ctx of configurationAsks) expect(ctx).toMatchObject({ key: 'ts' });
    await waitUntil(
      () => new Set(progressCreates.map((ctx) => ctx.pid)).size === 2,
      'both replicas asked window/workDoneProgress/create',
      60_000,
    );
    // The tsserver processes run in each replica's process group.
    const running = first.flatMap((pgid) => liveMembers(pgid));
    expect(running.length).toBeGreaterThan(first.length);
    members.push(...running); // every tsserver must be gone after close, too
    for (const lease of leases) lease.release();

    // SIGKILL replica 0: its group (tsserver too) goes, it restarts and handshakes again.
    const [killed, other] = first as [number, number];
    const killedMembers = liveMembers(killed);
    process.kill(killed, 'SIGKILL');
    await waitUntil(
      () => {
        const r = c.snapshot('ts').replicas[0];
        return r?.generation === 2 && r.status === 'ready';
      },
      'replica 0 restarted and ready',
      60_000,
    );
    const again = c.snapshot('ts').replicas[0]?.pid as number;
    expect(again).not.toBe(killed);
    expect(handshakes.map((h) => h.pid)).toContain(again);
    expect(c.snapshot('ts').replicas[1]).toMatchObject({ pid: other, generation: 1 });
    await waitUntil(
      () => killedMembers.every((pid) => !isAlive(pid)),
      'the killed replica left no process (tsserver included)',
      5_000,
    );
    // It serves hover again: lease both and use the restarted one.
    const [a, b] = await Promise.all([c.acquire('ts'), c.acquire('ts')]);
    const restarted = [a, b].find((l) => l.replica === 0) as Lease;
    expect(restarted).toMatchObject({ pid: again, generation: 2 });
    expect(await openAndHover(restarted)).toContain('const greeting: Greeting');
    a.release();
    b.release();
  }, 180_000);
});

describe('ACP agent (@agentclientprotocol/sdk)', () => {
  type Update = {
    sessionId: string;
    update: { sessionUpdate: string; content: { text: string }; _meta: { chunk: number } };
  };
  type PromptResult = { stopReason: string; _meta: { permission: string; prompt: string } };
  type PermissionRequest = {
    sessionId: string;
    options: { optionId: string; kind: string }[];
  };

  async function registerAgent(c: Coordinator, replicas: number, env: Record<string, string>) {
    trackGroups(c);
    await c.register(
      'agent',
      {
        command: process.execPath,
        args: [fixture('acp-agent.mjs')],
        env,
        initialize: {
          method: 'initialize',
          params: { protocolVersion: 1, clientCapabilities: {} },
        },
      },
      { replicas },
    );
  }

  /** A chat session: a lease, a session/new on it, its updates collected through the lease. */
  async function openSession(c: Coordinator) {
    const lease = await c.acquire('agent');
    const updates: Update[] = [];
    lease.onNotification('session/update', (params) => {
      updates.push(params as Update);
    });
    const { sessionId } = await lease.request<{ sessionId: string }>('session/new', {
      cwd: process.cwd(),
      mcpServers: [],
    });
    const prompt = (text: string) =>
      lease.request<PromptResult>('session/prompt', {
        sessionId,
        prompt: [{ type: 'text', text }],
      });
    return { lease, sessionId, updates, prompt };
  }

  const chunks = (updates: Update[]) =>
    updates.map((u) => `${u.update.sessionUpdate} ${u.update.content.text}`);
  const FIVE = [1, 2, 3, 4, 5].map((i) => `agent_message_chunk chunk ${i}`);

  it("streams a prompt's 5 session/update chunks to the session's lease, in order; the permission policy answers once", async () => {
    const c = coordinators.make();
    const asked: { params: PermissionRequest; ctx: PeerContext }[] = [];
    c.onRequest('agent', 'session/request_permission', (params, ctx) => {
      asked.push({ params: params as PermissionRequest, ctx });
      const allow = (params as PermissionRequest).options.find((o) => o.kind === 'allow_once');
      return { outcome: { outcome: 'selected', optionId: allow?.optionId } };
    });
    await registerAgent(c, 1, {});
    const session = await openSession(c);
    const result = await session.prompt('hello');
    expect(result).toEqual({
      stopReason: 'end_turn',
      _meta: { permission: 'allow', prompt: 'hello', chunks: 5 },
    });
    expect(chunks(session.updates)).toEqual(FIVE);
    expect(session.updates.every((u) => u.sessionId === session.sessionId)).toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.params.sessionId).toBe(session.sessionId);
    expect(asked[0]?.ctx).toMatchObject({
      method: 'session/request_permission',
      key: 'agent',
      replica: session.lease.replica,
      pid: session.lease.pid,
      lease: session.lease,
    });
    session.lease.release();
  }, 60_000);

  it('keeps two sessions on two leases apart while both prompts run at once', async () => {
    const c = coordinators.make();
    // A pause before each chunk, so the two prompts stream side by side.
    await registerAgent(c, 2, { ACP_AGENT_CHUNK_DELAY_MS: '20' });
    const one = await openSession(c);
    const two = await openSession(c);
    expect(one.lease.pid).not.toBe(two.lease.pid);
    const bothStreamed = () => one.updates.length === 5 && two.updates.length === 5;
    // The policy: session one's tool call allowed, two's rejected. Neither answers before both
    // sessions have streamed all their chunks, so both prompts must be in flight at once.
    const policy = async (params: unknown) => {
      await waitUntil(bothStreamed, 'both sessions streamed their 5 chunks', 30_000);
      const sessionId = (params as PermissionRequest).sessionId;
      return {
        outcome: {
          outcome: 'selected',
          optionId: sessionId === one.sessionId ? 'allow' : 'reject',
        },
      };
    };
    const asked: string[] = [];
    for (const session of [one, two])
      session.lease.onRequest('session/request_permission', (params) => {
        asked.push(`${session.sessionId} ${(params as PermissionRequest).sessionId}`);
        return policy(params);
      });
    const [first, second] = await Promise.all([one.prompt('first'), two.prompt('second')]);
    expect(first).toMatchObject({ stopReason: 'end_turn', _meta: { permission: 'allow' } });
    expect(second).toMatchObject({ stopReason: 'end_turn', _meta: { permission: 'reject' } });
    for (const [session, prompt] of [
      [one, 'first'],
      [two, 'second'],
    ] as const) {
      expect(chunks(session.updates)).toEqual(FIVE);
      expect(session.updates.map((u) => [u.sessionId, u.update._meta])).toEqual(
        [1, 2, 3, 4, 5].map((chunk) => [session.sessionId, { prompt, chunk }]),
      );
    }
    // Each lease's handler was asked once, for its own session.
    expect(asked.sort()).toEqual([one, two].map((s) => `${s.sessionId} ${s.sessionId}`).sort());
    one.lease.release();
    two.lease.release();
  }, 60_000);
});

describe('@modelcontextprotocol/server-everything', () => {
  async function registerEverything(c: Coordinator) {
    trackGroups(c);
    await c.register('everything', {
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
      initialize: {
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          // sampling: without it the server does not register trigger-sampling-request.
          capabilities: { sampling: {} },
          clientInfo: { name: 'atomvisor-test', version: '1' },
        },
        notification: { method: 'notifications/initialized' },
      },
    });
    // Its tools are registered once it has processed notifications/initialized.
    await waitUntilAsync(async () => {
      const { tools } = await c.request<{ tools: { name: string }[] }>('everything', 'tools/list');
      return tools.some((t) => t.name === 'trigger-sampling-request');
    }, 'the server lists its tools');
  }

  it('trigger-sampling-request returns the text the sampling/createMessage handler produced', async () => {
    const c = coordinators.make();
    const asked: { params: unknown; ctx: PeerContext }[] = [];
    c.onRequest('everything', 'sampling/createMessage', (params, ctx) => {
      asked.push({ params, ctx });
      const { messages } = params as { messages: { content: { text: string } }[] };
      return {
        role: 'assistant',
        content: { type: 'text', text: `sampled by atomvisor: ${messages[0]?.content.text}` },
        model: 'atomvisor-test-model',
        stopReason: 'endTurn',
      };
    });
    await registerEverything(c);
    const result = await c.request<{
      content: { type: string; text: string }[];
      isError?: boolean;
    }>('everything', 'tools/call', {
      name: 'trigger-sampling-request',
      arguments: { prompt: 'Say hi', maxTokens: 20 },
    });
    expect(result.isError).not.toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.ctx).toMatchObject({ key: 'everything', lease: undefined });
    const text = result.content.map((part) => part.text).join('');
    expect(text).toContain('sampled by atomvisor:');
    expect(text).toContain('Say hi');
    expect(text).toContain('atomvisor-test-model');
  }, 60_000);

  it('notifications/message reaches the lease and the key after logging/setLevel', async () => {
    const c = coordinators.make();
    const byKey: unknown[] = [];
    c.onNotification('everything', 'notifications/message', (params) => {
      byKey.push(params);
    });
    await registerEverything(c);
    await c.withConnection('everything', async (lease) => {
      const byLease: { level: string; data: unknown }[] = [];
      const leases = new Set<unknown>();
      lease.onNotification('notifications/message', (params, ctx) => {
        leases.add(ctx.lease);
        byLease.push(params as { level: string; data: unknown });
      });
      expect(await lease.request('logging/setLevel', { level: 'debug' })).toEqual({});
      // Turns simulated logging on: one message is sent before the tool's reply.
      await lease.request('tools/call', { name: 'toggle-simulated-logging', arguments: {} });
      await waitUntil(() => byLease.length > 0, 'a log message reached the lease', 30_000);
      expect(byLease[0]).toMatchObject({ level: expect.any(String), data: expect.any(String) });
      expect(byKey[0]).toEqual(byLease[0]);
      expect(leases).toEqual(new Set([lease]));
      // And off again, so the server exits at stdin EOF when closed.
      await lease.request('tools/call', { name: 'toggle-simulated-logging', arguments: {} });
    });
  }, 60_000);
});

/** Like waitUntil, for a condition that needs a request to check. */
async function waitUntilAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
