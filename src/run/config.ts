/**
 * Loading an `atomvisor run` config: read the file (JSON, or a .js/.ts module whose default export
 * is the object or a function returning it) and check it with its zod schema (schema.ts), which is
 * made of the API's own schemas, so the config accepts exactly what `register()` and
 * `createCoordinator()` accept and words a problem the same way. Every problem becomes a
 * ConfigError line `FILE: servers.NAME.command: reason`; nothing is started before the whole file
 * passed.
 *
 * Relative paths (a server's `cwd`, module probe paths, `stateFile`, `logs.dir`) are taken from the config
 * file's directory, which is also a server's default `cwd`, so a config runs the same from
 * anywhere (like docker compose files).
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CoordinatorOptions } from '../coordinator/options.ts';
import type { ConnectionSpec } from '../coordinator/spec.ts';
import { ConfigError } from '../errors.ts';
import { problemsOf } from '../schema/issues.ts';
import type { LogSettings } from './log-files.ts';
import {
  COORDINATOR_OPTION_KEYS,
  configSchema,
  type ParsedConfig,
  type RawConfig,
} from './schema.ts';

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
  if (!parsed.success) throw new ConfigError(file, problemsOf(parsed.error.issues));
  return resolveConfig(input as RawConfig, parsed.data, file);
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

/**
 * The RunConfig of a config that passed: servers and coordinator options as the file gave them
 * (register() and createCoordinator() resolve them again, and a reload compares them as written),
 * relative paths made absolute; the config's own fields with their defaults.
 */
function resolveConfig(raw: RawConfig, parsed: ParsedConfig, file: string): RunConfig {
  const dir = dirname(file);
  const servers: ServerEntry[] = [];
  for (const [name, server] of Object.entries(raw.servers)) {
    const { replicas = 1, ...rest } = server;
    const spec: ConnectionSpec = { ...rest, cwd: rest.cwd ? resolve(dir, rest.cwd) : dir };
    for (const probe of ['liveness', 'readiness', 'startup'] as const) {
      const p = spec[probe];
      if (p?.kind === 'module' && !p.path.startsWith('file:') && !isAbsolute(p.path))
        spec[probe] = { ...p, path: resolve(dir, p.path) };
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
  return {
    file,
    servers,
    http: parsed.http,
    shutdownTimeoutMs: parsed.shutdownTimeoutMs,
    logs:
      parsed.logs === undefined
        ? undefined
        : { ...parsed.logs, dir: resolve(dir, parsed.logs.dir) },
    detach: parsed.detach,
    coordinator: coordinator as CoordinatorOptions,
  };
}
