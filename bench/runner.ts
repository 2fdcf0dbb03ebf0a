/**
 * The benchmark runner: lists the selected suites' cases, runs each case in a fresh Node process
 * (bench/child.ts), collects what the cases measured, and lets every suite judge its targets on
 * the whole run. A case that crashes or times out is recorded as failed with its stderr tail and
 * the run goes on; a suite whose file does not exist yet is recorded as not available.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildResult } from './child.ts';
import { collectEnvironment, type Environment, finishEnvironment } from './env.ts';
import { type ProgressSink, silentProgress } from './progress.ts';
import type { CaseDef, Measurement, Profile, SuiteDef, TargetResult } from './suite.ts';
import { loadSuite } from './suites/index.ts';

export interface SuiteStatus {
  name: string;
  description: string;
  status: 'ran' | 'not available';
  reason?: string;
  cases: number;
  failed: number;
  /** Wall time of its cases, process start-ups included. */
  durationMs: number;
}

export interface CaseFailure {
  suite: string;
  case: string;
  title: string;
  reason: string;
  stderrTail: string;
  durationMs: number;
}

export interface SuiteTarget extends TargetResult {
  suite: string;
}

export interface RunResult {
  tool: 'atomvisor bench';
  profile: Profile;
  environment: Environment;
  suites: SuiteStatus[];
  measurements: Measurement[];
  failures: CaseFailure[];
  targets: SuiteTarget[];
  durationMs: number;
}

export interface RunOptions {
  profile: Profile;
  /** Suite names from the registry, or suite file paths (tests). */
  suites: readonly string[];
  progress?: ProgressSink;
  /** Kill a case after this long (default: 4× its estimate, at least 60 s). */
  caseTimeoutMs?: (c: CaseDef) => number;
}

const CHILD = fileURLToPath(
  new URL(`./child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);
const STDERR_KEEP = 4_000;

/** Node arguments that start bench/child in a fresh process, from source (tsx) or built. */
function childArgs(): string[] {
  if (!CHILD.endsWith('.ts')) return [CHILD];
  // Resolved from this file, so it works whatever the working directory (and under vitest).
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, CHILD];
}

let running: ChildProcess | undefined;
/** Kill the running case's whole process group (a case may spawn subprocesses of its own). */
function killRunning(): void {
  const pid = running?.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    running?.kill('SIGKILL');
  }
}

function runCase(
  suiteRef: string,
  c: CaseDef,
  profile: Profile,
  timeoutMs: number,
): Promise<{ ok: true; result: ChildResult } | { ok: false; reason: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...childArgs(), suiteRef, c.id, JSON.stringify(profile)],
      {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        detached: true, // its own process group, so a timeout kills everything the case started
      },
    );
    running = child;
    let stderr = '';
    let result: ChildResult | undefined;
    let timedOut = false;
    const keep = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP);
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep); // a case should not print; if it does, keep it for the report
    child.on('message', (message) => {
      result = message as ChildResult;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killRunning();
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Leftovers of the case's process group (subprocesses it spawned) go with it.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
      running = undefined;
      if (result && code === 0) {
        resolve({ ok: true, result });
      } else if (timedOut) {
        resolve({ ok: false, reason: `timed out after ${timeoutMs} ms`, stderr });
      } else if (result) {
        resolve({ ok: false, reason: `exited with ${signal ?? code} after reporting`, stderr });
      } else {
        resolve({ ok: false, reason: `exited with ${signal ?? `code ${code}`}`, stderr });
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      running = undefined;
      resolve({ ok: false, reason: `could not start: ${error.message}`, stderr });
    });
  });
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function runBench(options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  const environment = collectEnvironment();
  const { profile } = options;
  const statuses: SuiteStatus[] = [];
  const plan: { ref: string; suite: SuiteDef; c: CaseDef }[] = [];
  const loaded: { ref: string; suite: SuiteDef }[] = [];
  for (const ref of options.suites) {
    const l = await loadSuite(ref);
    if (!l.ok) {
      statuses.push({
        name: ref,
        description: '',
        status: 'not available',
        reason: l.reason,
        cases: 0,
        failed: 0,
        durationMs: 0,
      });
      progress.note(`suite ${ref}: ${l.reason} — skipped`);
      continue;
    }
    const cases = l.suite.cases(profile);
    loaded.push({ ref, suite: l.suite });
    statuses.push({
      name: l.suite.name,
      description: l.suite.description,
      status: 'ran',
      cases: cases.length,
      failed: 0,
      durationMs: 0,
    });
    for (const c of cases) plan.push({ ref, suite: l.suite, c });
  }

  const onSignal = (signal: NodeJS.Signals) => {
    killRunning();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const measurements: Measurement[] = [];
  const failures: CaseFailure[] = [];
  progress.start(
    plan.length,
    plan.reduce((ms, p) => ms + p.c.estimateMs, 0),
  );
  try {
    for (const [index, { ref, suite, c }] of plan.entries()) {
      const label = `${suite.name}: ${c.title}`;
      progress.caseStart(index, label, c.estimateMs);
      const t0 = performance.now();
      const timeout = options.caseTimeoutMs?.(c) ?? Math.max(60_000, c.estimateMs * 4);
      const outcome = await runCase(ref, c, profile, timeout);
      const durationMs = performance.now() - t0;
      progress.caseEnd(index, label, durationMs, c.estimateMs, outcome.ok);
      const status = statuses.find((s) => s.name === suite.name);
      if (status) status.durationMs += durationMs;
      if (outcome.ok) {
        measurements.push(...outcome.result.measurements);
      } else {
        failures.push({
          suite: suite.name,
          case: c.id,
          title: c.title,
          reason: outcome.reason,
          stderrTail: tail(outcome.stderr),
          durationMs,
        });
        if (status) status.failed++;
        progress.note(
          `  ${outcome.reason}${outcome.stderr ? `\n${indent(tail(outcome.stderr, 6))}` : ''}`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.done();
  }

  const targets: SuiteTarget[] = [];
  for (const { suite } of loaded) {
    try {
      for (const t of suite.targets?.(measurements) ?? [])
        targets.push({ ...t, suite: suite.name });
    } catch (error) {
      targets.push({
        suite: suite.name,
        id: `${suite.name}-targets`,
        description: `${suite.name} targets`,
        value: Number.NaN,
        shown: 'n/a',
        met: 'not run',
        note: `judging failed: ${(error as Error).message}`,
      });
    }
  }
  finishEnvironment(environment);
  return {
    tool: 'atomvisor bench',
    profile,
    environment,
    suites: statuses,
    measurements,
    failures,
    targets,
    durationMs: performance.now() - started,
  };
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
