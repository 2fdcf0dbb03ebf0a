/**
 * The API and a config file report the same field and the same reason for the same bad value,
 * because both read one schema. The walk is driven by the config's JSON Schema (the shipped one),
 * so an option added to a zod schema is walked without touching this file: every coordinator
 * option and every connection/probe spec field gets its bad values (wrong type, below its minimum,
 * above its maximum, not whole, empty, not one of its values, an unknown field next to it), each
 * given to createCoordinator() / register() and to parseConfig(); the JSON Schema refuses each too.
 * The rules a JSON Schema cannot state (between fields, function fields) are checked the same way
 * by hand below.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { type Coordinator, createCoordinator } from '../../src/coordinator/coordinator.ts';
import { ConfigError, InvalidArgumentError } from '../../src/errors.ts';
import { parseConfig } from '../../src/run/config.ts';
import { COORDINATOR_OPTION_KEYS, configJsonSchema } from '../../src/run/schema.ts';
import { joinPath } from '../../src/schema/issues.ts';
import { echoSpec } from '../helpers/processes.ts';

type Path = (string | number)[];
interface Node {
  type?: string;
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: Node | false;
  items?: Node;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Node[];
  $ref?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}

const schema = configJsonSchema() as unknown as Node & { $defs: Record<string, Node> };
const ajv = new Ajv2020({ strict: true }).compile(schema);

function deref(node: Node): Node {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace('#/$defs/', '');
  return schema.$defs[name] as Node;
}

/** A valid value for `node` (required fields only), `key` its field name. */
function valid(node: Node, key = ''): unknown {
  const n = deref(node);
  if (n.oneOf) return valid(n.oneOf[0] as Node);
  if (n.const !== undefined) return n.const;
  if (n.default !== undefined) return n.default;
  if (n.enum) return n.enum[0];
  switch (n.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const name of n.required ?? []) out[name] = valid(n.properties?.[name] as Node, name);
      return out;
    }
    case 'array':
      return [];
    case 'string':
      return key === 'url' ? 'http://127.0.0.1:1/' : 'x';
    case 'integer':
    case 'number':
      return n.minimum ?? 1;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

interface Bad {
  /** Where the problem is, relative to the node. */
  path: Path;
  value: unknown;
}

/** Bad values for `node`, each with exactly one problem at `path` (a value with its first). */
function bad(node: Node, key = ''): Bad[] {
  const n = deref(node);
  const here = (value: unknown): Bad => ({ path: [], value });
  if (n.oneOf) {
    const out: Bad[] = [here(5), { path: ['kind'], value: { kind: 'bogus' } }];
    for (const variant of n.oneOf)
      for (const b of bad(variant)) if (b.path[0] !== 'kind') out.push(b);
    return out;
  }
  if (n.enum) return [here('bogus'), here(5)];
  switch (n.type) {
    case 'object': {
      const base = valid(n, key) as Record<string, unknown>;
      const out: Bad[] = [here(5), { path: ['bogus'], value: { ...base, bogus: 1 } }];
      for (const [name, prop] of Object.entries(n.properties ?? {})) {
        if (prop.const !== undefined) continue; // a probe's kind: the variants above
        for (const b of bad(prop, name))
          out.push({ path: [name, ...b.path], value: { ...base, [name]: b.value } });
      }
      if (n.properties === undefined && typeof n.additionalProperties === 'object') {
        for (const b of bad(n.additionalProperties, 'K'))
          out.push({ path: ['K', ...b.path], value: { K: b.value } });
      }
      return out;
    }
    case 'array':
      return [
        here('x'),
        ...bad(n.items ?? {}).map((b) => ({ path: [0, ...b.path], value: [b.value] })),
      ];
    case 'string':
      return n.minLength === 1 ? [here(5), here('')] : [here(5)];
    case 'boolean':
      return [here('yes')];
    case 'integer':
    case 'number': {
      const out = [here('x')];
      if (n.minimum !== undefined) out.push(here(n.minimum - 1));
      if (n.maximum !== undefined) out.push(here(n.maximum + 1));
      const min = n.minimum ?? 0;
      if (n.type === 'integer' && (n.maximum === undefined || min + 1 <= n.maximum))
        out.push(here(min + 0.5));
      return out;
    }
    default:
      return []; // params: anything goes
  }
}

/** What createCoordinator() / register() threw: the field and the reason. */
async function apiError(call: () => unknown): Promise<{ field: string; reason: string }> {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    expect(error.message).toContain(error.field); // every message names the field
    return { field: error.field, reason: error.reason };
  }
  throw new Error('the API accepted it');
}

/** The config file's first problem (the API stops at its first). */
function configError(config: Record<string, unknown>): { path: string; reason: string } {
  try {
    parseConfig(config, '/x/c.json');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems[0] as { path: string; reason: string };
  }
  throw new Error('the config accepted it');
}

let coordinator: Coordinator | undefined;
const c = () => {
  coordinator ??= createCoordinator({ ioWorkers: 1, capacity: 4 });
  return coordinator;
};
afterAll(async () => {
  await coordinator?.close();
});

/** Options built so that nothing is started if the API wrongly accepted them. */
function tryCreate(options: unknown): Promise<unknown> {
  const made = createCoordinator(options as never);
  return made.close().then(() => made);
}

async function tryRegister(spec: unknown, options?: unknown): Promise<void> {
  await c().register('k', spec as never, options as never);
  await c().unregister('k');
}

const SERVER = { command: 'x' };
const properties = schema.properties as Record<string, Node>;
const serverNode = (properties.servers as Node).additionalProperties as Node;

describe('the API and the config file agree', () => {
  it('on every coordinator option', async () => {
    const walked = new Set<string>();
    for (const key of COORDINATOR_OPTION_KEYS) {
      for (const b of bad(properties[key] as Node, key)) {
        const path = [key, ...b.path];
        const api = await apiError(() => tryCreate({ [key]: b.value }));
        const config = configError({ servers: { a: SERVER }, [key]: b.value });
        expect({ value: b.value, ...api }).toEqual({
          value: b.value,
          field: joinPath('options', path),
          reason: config.reason,
        });
        expect(config.path).toBe(joinPath('', path));
        expect(ajv({ servers: { a: SERVER }, [key]: b.value })).toBe(false);
        walked.add(joinPath('', path));
      }
    }
    for (const key of COORDINATOR_OPTION_KEYS) expect(walked).toContain(key);
    expect(walked).toContain('restart.maxRestarts');
    expect(walked).toContain('env.allow[0]');
    expect(walked.size).toBeGreaterThan(40);
  });

  it('on every connection spec and probe field', async () => {
    const walked = new Set<string>();
    for (const [key, node] of Object.entries(serverNode.properties ?? {})) {
      if (key === 'replicas') continue; // register()'s options: below
      for (const b of bad(node, key)) {
        const spec = { ...SERVER, [key]: b.value };
        const path = [key, ...b.path];
        const api = await apiError(() => tryRegister(spec));
        const config = configError({ servers: { a: spec } });
        expect({ value: b.value, ...api }).toEqual({
          value: b.value,
          field: joinPath('spec', path),
          reason: config.reason,
        });
        expect(config.path).toBe(joinPath('servers.a', path));
        expect(ajv({ servers: { a: spec } })).toBe(false);
        walked.add(joinPath('', path));
      }
    }
    for (const key of ['command', 'args', 'env', 'protocol', 'initialize', 'maxMemoryMb'])
      expect(walked).toContain(key);
    for (const field of [
      'liveness.kind',
      'liveness.periodMs',
      'readiness.successThreshold',
      'startup.port',
      'startup.url',
      'liveness.export',
      'initialize.notification.method',
    ])
      expect(walked).toContain(field);
    expect(walked.size).toBeGreaterThan(60);
  });

  it('on replicas (register() options, a server’s replicas)', async () => {
    for (const b of bad(serverNode.properties?.replicas as Node)) {
      const api = await apiError(() => tryRegister(SERVER, { replicas: b.value }));
      const config = configError({ servers: { a: { ...SERVER, replicas: b.value } } });
      expect(api).toEqual({ field: 'options.replicas', reason: config.reason });
      expect(config.path).toBe('servers.a.replicas');
    }
    // scale() takes the same count.
    await c().register('echo', echoSpec());
    for (const b of bad(serverNode.properties?.replicas as Node)) {
      const api = await apiError(() => c().scale('echo', b.value as number));
      const config = configError({ servers: { a: { ...SERVER, replicas: b.value } } });
      expect(api).toEqual({ field: 'replicas', reason: config.reason });
    }
    await c().unregister('echo');
  });

  it('on the rules between fields, which a JSON Schema cannot state', async () => {
    const probe = (extra: object) => ({ kind: 'jsonrpc', method: 'ping', ...extra });
    const fn = () => {};
    const specCases: [object, string, RegExp][] = [
      [{ liveness: probe({ successThreshold: 2 }) }, 'liveness.successThreshold', /must be 1/],
      [{ startup: probe({ successThreshold: 3 }) }, 'startup.successThreshold', /must be 1/],
      [{ readiness: { kind: 'http', url: 'ftp://x/' } }, 'readiness.url', /http: or https:/],
      [{ readiness: { kind: 'http', url: 'nope' } }, 'readiness.url', /not a URL/],
      [{ protocol: 'none', initialize: { method: 'i' } }, 'initialize', /protocol 'none'/],
      [{ protocol: 'none', liveness: probe({}) }, 'liveness.kind', /cannot ping/],
      [{ protocol: 'none', onStart: fn }, 'onStart', /protocol 'none'/],
      [{ protocol: 'none', onRequest: { x: fn } }, 'onRequest', /never be called/],
      [{ protocol: 'none', onNotification: { x: fn } }, 'onNotification', /never be called/],
      [{ onStart: fn, initialize: { method: 'i' } }, 'onStart', /either initialize or onStart/],
      [{ onStart: 5 }, 'onStart', /expected a function, got 5/],
      [{ onRequest: { x: 'f' } }, 'onRequest.x', /expected a function/],
      [{ onNotification: [] }, 'onNotification', /expected an object, got an array/],
    ];
    for (const [extra, path, reason] of specCases) {
      const spec = { ...SERVER, ...extra };
      const api = await apiError(() => tryRegister(spec));
      // A .js/.ts config holds the same object (functions included).
      const config = configError({ servers: { a: spec } });
      expect(api).toEqual({ field: `spec.${path}`, reason: config.reason });
      expect(config.path).toBe(`servers.a.${path}`);
      expect(api.reason).toMatch(reason);
    }
    const restart = { initialDelayMs: 500, maxDelayMs: 100 };
    const api = await apiError(() => tryCreate({ restart }));
    expect(api).toEqual({
      field: 'options.restart.maxDelayMs',
      reason: configError({ servers: { a: SERVER }, restart }).reason,
    });
  });
});
