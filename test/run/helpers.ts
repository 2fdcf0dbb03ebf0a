/**
 * Helpers for the `atomvisor run` tests: start the real command as a child process (plain pipes
 * or a real pty through util-linux `script`), follow its output, make HTTP calls, parse the
 * Prometheus text strictly, and kill everything a test started even when it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { procStat } from '../../src/io/process-group.ts';
import { isAlive, waitUntil } from '../helpers/processes.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLE_CONFIG = fileURLToPath(
  new URL('../../examples/three-servers.config.json', import.meta.url),
);
/** How the tests run the CLI from source: works on Node 20 and 24. */
export const CLI = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunHandle {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Whether the process has exited. */
  done(): boolean;
  /** Wait until stdout satisfies `check` (polls; fails at the deadline with the output). */
  waitFor<T>(
    check: (stdout: string) => T | undefined | false,
    what: string,
    ms?: number,
  ): Promise<T>;
}

const started: { handle: RunHandle; pids: () => number[] }[] = [];

/** Start a command; everything it and its children run is killed by `killAll()`. */
export function start(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; pids?: (handle: RunHandle) => number[] } = {},
): RunHandle {
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let finished = false;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      finished = true;
      resolve({ code, signal });
    }),
  );
  const handle: RunHandle = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    done: () => finished,
    async waitFor(check, what, ms = 20_000) {
      let result: ReturnType<typeof check> | undefined;
      try {
        await waitUntil(
          () => {
            result = check(out);
            return (result !== undefined && result !== false) || finished;
          },
          what,
          ms,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- stdout:\n${out}\n--- stderr:\n${err}`);
      }
      if (result === undefined || result === false)
        throw new Error(`exited before ${what}\n--- stdout:\n${out}\n--- stderr:\n${err}`);
      return result as never;
    },
  };
  started.push({ handle, pids: () => options.pids?.(handle) ?? [] });
  return handle;
}

/** Kill every started command and the process groups of the servers it reported. */
export async function killAll(): Promise<void> {
  for (const { handle, pids } of started.splice(0)) {
    for (const pid of [...pids(), ...descendants(handle.child.pid ?? -1)]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (!handle.done()) {
      handle.child.kill('SIGKILL');
      await handle.exited;
    }
  }
}

/** Pids of live processes whose parent is `pid`, and theirs, recursively (from /proc). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat === undefined) continue; // gone while we looked
    const list = parents.get(stat.ppid) ?? [];
    list.push(Number(entry));
    parents.set(stat.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      if (isAlive(c)) out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** JSON events written by `run --json`, parsed line by line (each line must parse). */
export function jsonEvents(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The pids of every `spawn` event in `run --json` output. */
export function spawnedPids(stdout: string): number[] {
  return jsonEvents(stdout)
    .filter((e) => e.event === 'spawn')
    .map((e) => e.pid as number);
}

export function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          type: String(res.headers['content-type'] ?? ''),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- a strict Prometheus text-format (0.0.4) parser --------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const SUFFIXES: Record<Family['type'], readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function parseValue(text: string, line: number): number {
  if (!NUMBER.test(text)) throw new Error(`line ${line}: not a number: ${JSON.stringify(text)}`);
  return text.endsWith('Inf') ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq === -1) throw new Error(`line ${line}: bad labels ${JSON.stringify(text)}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`line ${line}: bad label name ${name}`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next}`);
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
    if (name in labels) throw new Error(`line ${line}: duplicate label ${name}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`line ${line}: expected , between labels`);
      i++;
    }
  }
  return labels;
}

/**
 * Parse the text exposition strictly: every sample belongs to a family declared by # TYPE before
 * it (histograms: _bucket with le, _sum, _count), values are numbers, no series twice, and every
 * histogram series has ascending le, cumulative counts, a +Inf bucket equal to _count, and _sum.
 */
export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const typed = new Set<string>();
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      const family = families.get(name);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`line ${line}: bad type ${rest}`);
        if (typed.has(name)) throw new Error(`line ${line}: second TYPE for ${name}`);
        typed.add(name);
        families.set(name, {
          name,
          type: rest as Family['type'],
          help: family?.help,
          samples: [],
        });
      } else if (family) family.help = rest;
      else families.set(name, { name, type: 'untyped', help: rest, samples: [] });
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (m === null) throw new Error(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    const [, name, labelText, valueText] = m as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    const labels = labelText === undefined ? {} : parseLabels(labelText, line);
    const value = parseValue(valueText, line);
    let family: Family | undefined;
    for (const f of families.values()) {
      if (SUFFIXES[f.type].some((s) => f.name + s === name)) family = f;
    }
    if (family === undefined || !typed.has(family.name))
      throw new Error(`line ${line}: sample ${name} has no # TYPE declared before it`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels))
      throw new Error(`line ${line}: histogram bucket without le`);
    const id = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seen.has(id)) throw new Error(`line ${line}: series ${id} twice`);
    seen.add(id);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(id) ?? { buckets: [] };
    series.set(id, entry);
    if (s.name.endsWith('_bucket')) entry.buckets.push([parseValue(le as string, 0), s.value]);
    else if (s.name.endsWith('_sum')) entry.sum = s.value;
    else entry.count = s.value;
  }
  for (const [id, s] of series) {
    const where = `${family.name}${id}`;
    if (s.sum === undefined) throw new Error(`${where}: no _sum`);
    if (s.count === undefined) throw new Error(`${where}: no _count`);
    const last = s.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity)
      throw new Error(`${where}: no +Inf bucket last`);
    if (last[1] !== s.count)
      throw new Error(`${where}: +Inf bucket ${last[1]} ≠ _count ${s.count}`);
    for (let i = 1; i < s.buckets.length; i++) {
      const [le0, c0] = s.buckets[i - 1] as [number, number];
      const [le1, c1] = s.buckets[i] as [number, number];
      if (!(le1 > le0)) throw new Error(`${where}: le not ascending`);
      if (c1 < c0) throw new Error(`${where}: buckets not cumulative`);
    }
  }
}

/** One sample's value, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
