/**
 * Loading an `atomvisor run` config: read the file (JSON, or a .js/.ts module whose default export
 * is the object or a function returning it), check its structure with the zod schema, then its
 * semantics with the API's own resolvers (resolveSpec, resolveOptions), so the config accepts
 * exactly what `register()` and `createCoordinator()` accept. Every problem becomes a ConfigError
 * line `FILE: servers.NAME.command: reason`; nothing is started before the whole file passed.
 *
 * Relative paths (a server's `cwd`, module probe paths, `stateFile`, `logs.dir`) are taken from the config
 * file's directory, which is also a server's default `cwd`, so a config runs the same from
 * anywhere (like docker compose files).
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { type CoordinatorOptions, resolveOptions } from '../coordinator/options.ts';
import type { ConnectionSpec } from '../coordinator/spec.ts';
import { resolveSpec } from '../coordinator/spec.ts';
import { ConfigError, InvalidArgumentError } from '../errors.ts';
import { describe } from '../shm/validate.ts';
import {
  DEFAULT_LOG_KEEP,
  DEFAULT_LOG_MAX_BYTES,
  type LogSettings,
  logFileClashes,
} from './log-files.ts';
import { COORDINATOR_OPTION_KEYS, configSchema, type RawConfig } from './schema.ts';

export const DEFAULT_CONFIG = 'atomvisor.config.json';
const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

export interface ServerEntry {
  name: string;
  spec: ConnectionSpec;
  replicas: number;
}

export interface RunConfig {
  /** The config file, absolute. */
  file: string;
  servers: ServerEntry[];
  http: { host: string; port: number } | undefined;
  shutdownTimeoutMs: number;
  /** Log files (`logs`), the directory made absolute; undefined: output goes to stdout only. */
  logs: LogSettings | undefined;
  /** Keep running when the launching process goes away. */
  detach: boolean;
  coordinator: CoordinatorOptions;
}

type Problem = { path: string; reason: string };

/**
 * Load, check and resolve `file` (relative to `cwd`). Throws ConfigError naming every problem.
 * `fresh`: a .js/.ts config is imported anew (a reload), not taken from the module cache.
 */
export async function loadConfig(
  file: string,
  cwd = process.cwd(),
  options: { fresh?: boolean } = {},
): Promise<RunConfig> {
  const path = resolve(cwd, file);
  return parseConfig(await readConfig(path, options.fresh ?? false), path);
}

let imports = 0;

/** Check an already-loaded config object as if it came from `file`. */
export function parseConfig(input: unknown, file: string): RunConfig {
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.flatMap(describeIssue));
  return resolveConfig(parsed.data, file);
}

async function readConfig(path: string, fresh: boolean): Promise<unknown> {
  const ext = extname(path);
  if (MODULE_EXTENSIONS.includes(ext)) {
    let mod: { default?: unknown };
    // ESM has no cache eviction: a reload imports the file under a new URL (each stays in memory).
    const url = pathToFileURL(path);
    if (fresh) url.search = `reload=${++imports}`;
    try {
      mod = (await import(url.href)) as { default?: unknown };
    } catch (error) {
      const hint =
        ext.endsWith('ts') && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION'
          ? ' (a TypeScript config needs tsx: `npx tsx atomvisor run ...`, or write it in JavaScript)'
          : '';
      throw new ConfigError(path, [
        { path: '', reason: `cannot load: ${(error as Error).message ?? error}${hint}` },
      ]);
    }
    const exported = mod.default;
    if (exported === undefined) {
      throw new ConfigError(path, [{ path: '', reason: 'has no default export' }]);
    }
    return typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      {
        path: '',
        reason: code === 'ENOENT' ? 'no such file' : `cannot read: ${(error as Error).message}`,
      },
    ]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(path, [
      { path: '', reason: `not valid JSON: ${(error as Error).message}` },
    ]);
  }
}

function joinPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) =>
      typeof p === 'number'
        ? `[${p}]`
        : /^[A-Za-z_$][\w$-]*$/.test(String(p))
          ? `${i === 0 ? '' : '.'}${String(p)}`
          : `[${JSON.stringify(String(p))}]`,
    )
    .join('');
}

/** A zod issue in the words the API's own errors use. */
function describeIssue(issue: z.core.$ZodIssue): Problem[] {
  const path = joinPath(issue.path);
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: at(key), reason: 'unknown field' }));
    case 'invalid_type': {
      if (issue.input === undefined) return [{ path, reason: 'is required' }];
      return [
        {
          path,
          reason: `expected ${article(issue.expected)}, got ${Array.isArray(issue.input) ? 'an array' : describe(issue.input)}`,
        },
      ];
    }
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator !== undefined) {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const got = (issue.input as Record<string, unknown> | undefined)?.[issue.discriminator];
        return [
          {
            path,
            reason:
              got === undefined
                ? `is required (one of ${options.join(', ')})`
                : `expected one of ${options.join(', ')}, got ${describe(got)}`,
          },
        ];
      }
      return [{ path, reason: issue.message }];
    case 'invalid_value':
      return [
        {
          path,
          reason: `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describe(issue.input)}`,
        },
      ];
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1)
        return [{ path, reason: 'must not be empty' }];
      return [{ path, reason: `must be ≥ ${String(issue.minimum)}, got ${describe(issue.input)}` }];
    case 'too_big':
      return [{ path, reason: `must be ≤ ${String(issue.maximum)}, got ${describe(issue.input)}` }];
    default:
      return [{ path, reason: issue.message }];
  }
}

function article(type: string): string {
  const word = type === 'record' ? 'object' : type;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** The semantic checks, by the API's own resolvers; relative paths made absolute. */
function resolveConfig(raw: RawConfig, file: string): RunConfig {
  const dir = dirname(file);
  const problems: Problem[] = [];
  const servers: ServerEntry[] = [];
  for (const [name, server] of Object.entries(raw.servers)) {
    const { replicas = 1, ...rest } = server;
    const spec: ConnectionSpec = { ...rest, cwd: rest.cwd ? resolve(dir, rest.cwd) : dir };
    for (const probe of ['liveness', 'readiness', 'startup'] as const) {
      const p = spec[probe];
      if (p?.kind === 'module' && !p.path.startsWith('file:') && !isAbsolute(p.path))
        spec[probe] = { ...p, path: resolve(dir, p.path) };
    }
    const field = `servers${joinPath([name]).startsWith('[') ? '' : '.'}${joinPath([name])}`;
    try {
      resolveSpec(spec, field);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      problems.push({ path: error.field, reason: error.reason });
    }
    servers.push({ name, spec, replicas });
  }
  const coordinator: Record<string, unknown> = {};
  for (const key of COORDINATOR_OPTION_KEYS) {
    const value = (raw as Record<string, unknown>)[key];
    if (value !== undefined) coordinator[key] = value;
  }
  if (typeof coordinator.stateFile === 'string')
    coordinator.stateFile = resolve(dir, coordinator.stateFile);
  try {
    resolveOptions(coordinator);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    problems.push({ path: error.field.replace(/^options\.?/, ''), reason: error.reason });
  }
  if (raw.logs !== undefined) problems.push(...logFileClashes(Object.keys(raw.servers)));
  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    file,
    servers,
    http:
      raw.http === undefined
        ? undefined
        : { host: raw.http.host ?? '127.0.0.1', port: raw.http.port },
    shutdownTimeoutMs: raw.shutdownTimeoutMs ?? 10_000,
    logs:
      raw.logs === undefined
        ? undefined
        : {
            dir: resolve(dir, raw.logs.dir),
            maxBytes: raw.logs.maxBytes ?? DEFAULT_LOG_MAX_BYTES,
            keep: raw.logs.keep ?? DEFAULT_LOG_KEEP,
          },
    detach: raw.detach ?? false,
    coordinator: coordinator as CoordinatorOptions,
  };
}
