/**
 * The config file's JSON Schema: generated from the same zod schemas the API uses, shipped as
 * schema/atomvisor.config.schema.json (kept in step: `npm run schema`), printed by
 * `atomvisor run --print-schema`. A real JSON Schema validator (ajv, draft 2020-12) accepts every
 * example config (examples/, docs/run.md) and refuses broken ones, as parseConfig does; it offers
 * no function field (onStart, onRequest, onNotification), which a JSON file cannot hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { parseConfig } from '../../src/run/config.ts';
import { configJsonSchema } from '../../src/run/schema.ts';
import { CLI, killAll, ROOT, start } from './helpers.ts';

afterEach(killAll);

const SHIPPED = join(ROOT, 'schema', 'atomvisor.config.schema.json');
const schema = configJsonSchema();
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

/** ajv's verdict on `config`: [] when valid, else each error as `path: message`. */
function jsonSchemaErrors(config: unknown): string[] {
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath}: ${e.message}`);
}

/** parseConfig's problems with `config` ([] when it passes). */
function configProblems(config: unknown): string[] {
  try {
    parseConfig(config, join(ROOT, 'examples', 'x.config.json'));
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.reason}`);
  }
}

/** Every example config: the JSON files in examples/ and the JSON blocks of docs/run.md. */
function examples(): [string, unknown][] {
  const files = readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.config.json'))
    .map((f): [string, unknown] => [
      `examples/${f}`,
      JSON.parse(readFileSync(join(ROOT, 'examples', f), 'utf8')),
    ]);
  const docs = [
    ...readFileSync(join(ROOT, 'docs', 'run.md'), 'utf8').matchAll(/```json\n([^`]*)```/g),
  ]
    .map((m) => JSON.parse(m[1] as string) as Record<string, unknown>)
    .filter((c) => 'servers' in c)
    .map((c, i): [string, unknown] => [`docs/run.md block ${i + 1}`, c]);
  return [...files, ...docs];
}

describe('the config JSON Schema', () => {
  it('is the shipped file, and what `atomvisor run --print-schema` prints', async () => {
    // A mismatch means a schema changed without `npm run schema`.
    expect(JSON.parse(readFileSync(SHIPPED, 'utf8'))).toEqual(schema);
    const run = start([...CLI, 'run', '--print-schema']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(run.stdout())).toEqual(schema);
  });

  it('accepts every example config, as atomvisor does, and the examples point to it', () => {
    const all = examples();
    expect(all.length).toBeGreaterThanOrEqual(2); // examples/ and docs/run.md
    for (const [name, config] of all) {
      expect({ name, errors: jsonSchemaErrors(config) }).toEqual({ name, errors: [] });
      expect({ name, problems: configProblems(config) }).toEqual({ name, problems: [] });
    }
    for (const f of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.config.json'))) {
      const config = JSON.parse(readFileSync(join(ROOT, 'examples', f), 'utf8'));
      expect(config.$schema).toBe('../schema/atomvisor.config.schema.json');
    }
  });

  it.each([
    ['an unknown field', { servers: { a: { command: 'x', argz: [] } } }, /argz/],
    ['a wrong type', { servers: { a: { command: 'x', replicas: 'two' } } }, /replicas/],
    ['a missing command', { servers: { a: { args: ['x'] } } }, /command/],
    ['no servers', { servers: {} }, /servers/],
    [
      'an unknown probe kind',
      { servers: { a: { command: 'x', liveness: { kind: 'smtp' } } } },
      /liveness/,
    ],
    [
      'a field of another probe kind',
      { servers: { a: { command: 'x', liveness: { kind: 'tcp', port: 80, url: 'http://x/' } } } },
      /liveness/,
    ],
    ['an out-of-range option', { servers: { a: { command: 'x' } }, capacity: 0 }, /capacity/],
    ['a non-integer option', { servers: { a: { command: 'x' } }, maxInFlight: 1.5 }, /maxInFlight/],
    ['a bad protocol', { servers: { a: { command: 'x', protocol: 'grpc' } } }, /protocol/],
    [
      'a misspelt nested option',
      { servers: { a: { command: 'x' } }, restart: { maxRestart: 1 } },
      /maxRestart/,
    ],
    [
      'http without a port',
      { servers: { a: { command: 'x' } }, http: { host: '0.0.0.0' } },
      /port/,
    ],
  ])('refuses %s, as atomvisor does', (_, config, field) => {
    expect(jsonSchemaErrors(config)).not.toEqual([]);
    const problems = configProblems(config);
    expect(problems).not.toEqual([]);
    expect(problems.join('\n')).toMatch(field);
  });

  it('offers no function field: a JSON file cannot hold one', () => {
    type Node = { properties: { [key: string]: Node }; additionalProperties: Node };
    const server = (schema as unknown as Node).properties.servers!.additionalProperties.properties;
    expect(Object.keys(server)).toContain('command');
    expect(Object.keys(server)).toContain('replicas');
    for (const name of ['onStart', 'onRequest', 'onNotification']) {
      expect(Object.keys(server)).not.toContain(name);
      expect(jsonSchemaErrors({ servers: { a: { command: 'x', [name]: {} } } })).not.toEqual([]);
    }
  });

  it('states ranges and defaults, but no default that depends on the machine', () => {
    const props = schema.properties as Record<string, Record<string, unknown>>;
    expect(props.capacity).toMatchObject({ type: 'integer', minimum: 1, default: 256 });
    expect(props.requestTimeoutMs).toMatchObject({ type: 'number', minimum: 1, default: 60_000 });
    expect(props.ioWorkers).toMatchObject({ type: 'integer', minimum: 1, maximum: 64 });
    expect(props.ioWorkers).not.toHaveProperty('default');
    expect(props.ioWorkers?.description).toMatch(/min\(2, available cores\)/);
  });
});
