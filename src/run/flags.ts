/**
 * The command line of `atomvisor run`: its usage text, the flags parsed and checked, and the
 * settings in effect where a flag overrides the config (the log files, the HTTP endpoint). Flags
 * that override config fields take the same values and are checked by those fields' schemas
 * (schema.ts); a bad one is an InvalidArgumentError naming the flag. Pure: nothing here starts,
 * reads or writes anything.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { ConfigError, InvalidArgumentError } from '../errors.ts';
import { parseOrThrow } from '../schema/issues.ts';
import { DEFAULT_CONFIG, type RunConfig } from './config.ts';
import {
  DEFAULT_LOG_KEEP,
  DEFAULT_LOG_MAX_BYTES,
  type LogSettings,
  logFileClashes,
} from './log-files.ts';
import { RUN_FLAG_SCHEMAS } from './schema.ts';

export const RUN_USAGE = `usage: atomvisor run [CONFIG] [options]

Supervise the stdio JSON-RPC servers named in CONFIG (default ${DEFAULT_CONFIG}; a .js/.ts
module whose default export is the same object also works). See docs/run.md.

options:
  --json                   newline-delimited JSON events on stdout (no live view)
  --no-view                plain log lines even on a terminal
  --http-port PORT         serve /healthz /readyz /status /metrics (0: any free port);
                           overrides the config's http.port
  --http-host HOST         the address to bind (default 127.0.0.1)
  --log-dir DIR            each server's output to DIR/NAME.log, the events to DIR/atomvisor.log,
                           rotated by size (overrides the config's logs.dir)
  --watch                  reload the config when its file changes (as on SIGHUP)
  --detach                 keep running when the process that started it goes away
                           (default: shut down, as on SIGTERM)
  --shutdown-timeout MS    on SIGINT/SIGTERM, let in-flight work finish this long
                           (default: the config's shutdownTimeoutMs, else 10000)
  --check                  check the config and exit
  --print-schema           print the config file's JSON Schema and exit
  -h, --help               show this help

signals: SIGINT/SIGTERM close gracefully (a second one forces it); SIGHUP reloads the config and
applies what changed (with the live view on, it means the terminal hung up: close gracefully);
SIGUSR2 restarts every server one replica at a time.

exit status: 0 after a graceful shutdown; 1 when a server could not start or the shutdown
deadline passed; 2 for a bad config or usage; 130/143 when a second SIGINT/SIGTERM forced it.`;

export interface RunFlags {
  configFile: string;
  json: boolean;
  view: boolean;
  httpPort: number | undefined;
  httpHost: string | undefined;
  logDir: string | undefined;
  watch: boolean;
  detach: boolean;
  shutdownTimeoutMs: number | undefined;
  check: boolean;
  printSchema: boolean;
}

/** The arguments after `run`, checked; 'help' for -h/--help. Throws InvalidArgumentError. */
export function parseFlags(argv: string[]): RunFlags | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      'no-view': { type: 'boolean' },
      'http-port': { type: 'string' },
      'http-host': { type: 'string' },
      'log-dir': { type: 'string' },
      watch: { type: 'boolean' },
      detach: { type: 'boolean' },
      'shutdown-timeout': { type: 'string' },
      check: { type: 'boolean' },
      'print-schema': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  if (positionals.length > 1)
    throw new InvalidArgumentError('CONFIG', `expected one config file, got ${positionals.length}`);
  // Flags that override config fields take the same values: checked by those fields' schemas.
  const whole = (name: string, text: string | undefined, schema: z.ZodType<number>) => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text))
      throw new InvalidArgumentError(`--${name}`, `expected a whole number, got ${text}`);
    return parseOrThrow(schema, Number(text), `--${name}`);
  };
  const logDir = values['log-dir'];
  if (logDir !== undefined) parseOrThrow(RUN_FLAG_SCHEMAS.logDir, logDir, '--log-dir');
  const httpHost = values['http-host'];
  if (httpHost !== undefined) parseOrThrow(RUN_FLAG_SCHEMAS.httpHost, httpHost, '--http-host');
  return {
    configFile: positionals[0] ?? DEFAULT_CONFIG,
    json: values.json ?? false,
    view: !(values['no-view'] ?? false),
    httpPort: whole('http-port', values['http-port'], RUN_FLAG_SCHEMAS.httpPort),
    httpHost,
    logDir: logDir === undefined ? undefined : resolve(logDir),
    watch: values.watch ?? false,
    detach: values.detach ?? false,
    shutdownTimeoutMs: whole(
      'shutdown-timeout',
      values['shutdown-timeout'],
      RUN_FLAG_SCHEMAS.shutdownTimeoutMs,
    ),
    check: values.check ?? false,
    printSchema: values['print-schema'] ?? false,
  };
}

/** Where the HTTP endpoint listens. */
export interface HttpSettings {
  host: string;
  port: number;
}

/** The log settings in effect: `--log-dir` over the config's `logs.dir`. */
export function logsOf(config: RunConfig, flags: RunFlags): LogSettings | undefined {
  if (flags.logDir === undefined) return config.logs;
  return {
    dir: flags.logDir,
    maxBytes: config.logs?.maxBytes ?? DEFAULT_LOG_MAX_BYTES,
    keep: config.logs?.keep ?? DEFAULT_LOG_KEEP,
  };
}

/** The endpoint settings in effect: the flags over the config's `http`. */
export function httpOf(config: RunConfig, flags: RunFlags): HttpSettings | undefined {
  if (flags.httpPort === undefined && flags.httpHost === undefined && config.http === undefined)
    return undefined;
  return {
    host: flags.httpHost ?? config.http?.host ?? '127.0.0.1',
    port: flags.httpPort ?? config.http?.port ?? 0,
  };
}

/** With --log-dir, server names must still give distinct log files (the config checks its own). */
export function checkLogNames(config: RunConfig, flags: RunFlags): void {
  if (flags.logDir === undefined || config.logs !== undefined) return;
  const problems = logFileClashes(config.servers.map((s) => s.name));
  if (problems.length > 0) throw new ConfigError(config.file, problems);
}
