/**
 * The probe checks that run in a probe worker (piscina, workers/probe-worker.ts): exec, tcp, http
 * and module. Each one is cut at its own timeout here (an AbortSignal the check honours: the exec
 * child's group is killed, the socket destroyed, the user's function is told), and the coordinator
 * races it with its own timer too, so a worker that cannot even answer stalls nothing.
 *
 * A check never throws: it resolves with a plain, structured-clonable ProbeOutcome.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { threadId, workerData } from 'node:worker_threads';
import type { ProbeCheck } from './spec.ts';

/** What a probe worker runs; `noop` warms a fresh pool up (loads the worker module). */
export type WorkerCheck =
  | Exclude<ProbeCheck, { kind: 'jsonrpc' }>
  | { kind: 'noop'; delayMs: number };

export interface ProbeTask {
  check: WorkerCheck;
  timeoutMs: number;
  key: string;
  pid: number;
  /**
   * Set by ProbePool: this task's entry in workerData.claims — word 2·claim gets this worker's
   * threadId at start, word 2·claim + 1 an exec probe's child pid while it runs.
   */
  claim?: number;
}

export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed (or what a module probe said). */
  reason?: string | undefined;
  detail?: unknown;
  /** The probe itself is misconfigured (e.g. ENOENT for an exec command, a missing export). */
  config?: boolean | undefined;
  /** It ran out of time. */
  timedOut?: boolean | undefined;
}

const claimsBuffer = (workerData as { claims?: SharedArrayBuffer } | null)?.claims;
const claims = claimsBuffer === undefined ? undefined : new Int32Array(claimsBuffer);

export async function runProbe(task: ProbeTask): Promise<ProbeOutcome> {
  if (task.claim !== undefined && claims !== undefined)
    Atomics.store(claims, 2 * task.claim, threadId);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${task.timeoutMs} ms`));
      resolve({ ok: false, reason: `timed out after ${task.timeoutMs} ms`, timedOut: true });
    }, task.timeoutMs);
  });
  try {
    return await Promise.race([check(task, controller.signal), timedOut]);
  } catch (error) {
    return { ok: false, reason: message(error) };
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort(new Error('probe finished'));
  }
}

function check(task: ProbeTask, signal: AbortSignal): Promise<ProbeOutcome> {
  const c = task.check;
  switch (c.kind) {
    case 'noop':
      return new Promise((resolve) =>
        setTimeout(() => resolve({ ok: true, detail: threadId }), c.delayMs),
      );
    case 'exec':
      return execProbe(c.command, c.args, signal, task.claim);
    case 'tcp':
      return tcpProbe(c.host, c.port, signal);
    case 'http':
      return httpProbe(c.url, signal);
    case 'module':
      return moduleProbe(c.path, c.export, { key: task.key, pid: task.pid, signal });
  }
}

/** Exit code 0 is healthy. The command runs in its own process group, killed whole on timeout. */
function execProbe(
  command: string,
  args: string[],
  signal: AbortSignal,
  claim: number | undefined,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, shell: false });
    // Let the coordinator kill the group too, should this worker be terminated before it can.
    const slot = claim === undefined || claims === undefined ? -1 : 2 * claim + 1;
    if (slot >= 0 && child.pid !== undefined) Atomics.store(claims as Int32Array, slot, child.pid);
    const forget = () => {
      if (slot >= 0 && child.pid !== undefined)
        Atomics.compareExchange(claims as Int32Array, slot, child.pid, 0);
    };
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    signal.addEventListener('abort', killGroup, { once: true });
    child.once('error', (error: NodeJS.ErrnoException) => {
      forget();
      signal.removeEventListener('abort', killGroup);
      const config = error.code === 'ENOENT' || error.code === 'EACCES';
      resolve({
        ok: false,
        config,
        reason: `${config ? 'cannot run' : 'failed to run'} ${JSON.stringify(command)}: ${error.code ?? error.message}`,
      });
    });
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', killGroup);
      killGroup(); // anything it left behind in its group
      forget();
      if (code === 0) resolve({ ok: true });
      else
        resolve({
          ok: false,
          reason: sig === null ? `exited with code ${code}` : `killed by ${sig}`,
        });
    });
  });
}

function tcpProbe(host: string, port: number, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: ProbeOutcome) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = () => done({ ok: false, reason: message(signal.reason), timedOut: true });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({ ok: false, reason: `connect ${host}:${port}: ${error.code ?? error.message}` }),
    );
  });
}

/** GET; a status in 200..399 is healthy (Kubernetes). No connection pooling: one socket per probe. */
function httpProbe(url: string, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    let settled = false;
    const done = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const req = send(url, { method: 'GET', agent: false, signal }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.destroy();
      done(
        status >= 200 && status < 400
          ? { ok: true, detail: status }
          : { ok: false, reason: `HTTP ${status}`, detail: status },
      );
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) done({ ok: false, reason: message(signal.reason), timedOut: true });
      else done({ ok: false, reason: `GET ${url}: ${error.code ?? error.message}` });
    });
    req.end();
  });
}

type ProbeFunction = (context: {
  key: string;
  pid: number;
  signal: AbortSignal;
}) => unknown | Promise<unknown>;

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function moduleProbe(
  path: string,
  name: string,
  context: { key: string; pid: number; signal: AbortSignal },
): Promise<ProbeOutcome> {
  let loaded = modules.get(path);
  if (loaded === undefined) {
    loaded = import(pathToFileURL(path).href) as Promise<Record<string, unknown>>;
    modules.set(path, loaded);
    loaded.catch(() => modules.delete(path)); // a fixed file may load next time
  }
  let mod: Record<string, unknown>;
  try {
    mod = await loaded;
  } catch (error) {
    return { ok: false, config: true, reason: `cannot load ${path}: ${message(error)}` };
  }
  const fn = mod[name];
  if (typeof fn !== 'function') {
    return {
      ok: false,
      config: true,
      reason: `${path} has no function export ${JSON.stringify(name)}`,
    };
  }
  let result: unknown;
  try {
    result = await (fn as ProbeFunction)(context);
  } catch (error) {
    return { ok: false, reason: `the probe threw: ${message(error)}` };
  }
  if (typeof result === 'boolean') return result ? { ok: true } : { ok: false, reason: 'false' };
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as { ok?: unknown }).ok === 'boolean'
  ) {
    const { ok, detail } = result as { ok: boolean; detail?: unknown };
    const safe = cloneable(detail);
    return ok
      ? { ok: true, detail: safe }
      : { ok: false, reason: typeof detail === 'string' ? detail : 'not ok', detail: safe };
  }
  return {
    ok: false,
    reason: `the probe returned ${describeValue(result)}; expected a boolean or { ok, detail? }`,
  };
}

function cloneable(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return structuredClone(value);
  } catch {
    return String(value);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object without ok';
  if (typeof value === 'string') return `a string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
