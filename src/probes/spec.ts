/**
 * Health probe specs: the zod schema of what a connection spec's `liveness`, `readiness` and
 * `startup` fields may hold — kinds, Kubernetes defaults, ranges and rules — and the types derived
 * from it (ProbeSpec what users write, ResolvedProbe what the scheduler runs). It is the one
 * definition: register(), `atomvisor run` configs and their JSON Schema all read it. Errors name
 * the field, e.g. `spec.liveness.periodMs` (src/schema/issues.ts).
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DAY_MS, int, ms, nonEmpty } from '../schema/fields.ts';
import { parseOrThrow } from '../schema/issues.ts';

export type ProbeName = 'liveness' | 'readiness' | 'startup';

export const PROBE_NAMES: readonly ProbeName[] = ['startup', 'liveness', 'readiness'];

/** Counters are packed 10 bits per probe in the slot (src/probes/counters.ts): thresholds fit. */
export const MAX_THRESHOLD = 1000;

/** Timing and thresholds shared by every kind (Kubernetes semantics and defaults). */
const timing = {
  periodMs: ms(1, DAY_MS).default(10_000).describe('How often to probe (ms).'),
  timeoutMs: ms(1, DAY_MS).default(1_000).describe('A probe not done by then fails (ms).'),
  initialDelayMs: ms(0, DAY_MS)
    .default(0)
    .describe('Wait this long after the process turned ready (or startup passed) before probing.'),
  failureThreshold: int(1, MAX_THRESHOLD)
    .default(3)
    .describe('Consecutive failures that count as failed.'),
  successThreshold: int(1, MAX_THRESHOLD)
    .default(1)
    .describe(
      'Consecutive successes that count as passed after a failure (must be 1 for liveness and startup).',
    ),
};

const TIMING_KEYS = Object.keys(timing) as (keyof typeof timing)[];

const httpUrl = nonEmpty().superRefine((url, ctx) => {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    ctx.addIssue({ code: 'custom', input: url, message: `not a URL: ${JSON.stringify(url)}` });
    return;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    ctx.addIssue({
      code: 'custom',
      input: url,
      message: `expected an http: or https: URL, got ${parsed.protocol}`,
    });
});

/** Every probe kind; `kind` picks the one, and a field another kind takes is an unknown field. */
export const probeSchema = z
  .discriminatedUnion('kind', [
    z
      .strictObject({
        kind: z.literal('jsonrpc'),
        method: nonEmpty().describe('Sent as a request on the server’s own stdio, e.g. MCP ping.'),
        params: z.unknown().optional(),
        ...timing,
      })
      .describe('Healthy when the request gets a result, not an error.'),
    z
      .strictObject({
        kind: z.literal('exec'),
        command: nonEmpty(),
        args: z.array(z.string()).default(() => []),
        ...timing,
      })
      .describe('Healthy when the command exits 0.'),
    z
      .strictObject({
        kind: z.literal('tcp'),
        port: int(1, 65_535),
        host: nonEmpty().default('127.0.0.1'),
        ...timing,
      })
      .describe('Healthy when a TCP connection opens.'),
    z
      .strictObject({ kind: z.literal('http'), url: httpUrl, ...timing })
      .describe('Healthy when a GET answers 200–399.'),
    z
      .strictObject({
        kind: z.literal('module'),
        path: nonEmpty().describe(
          'A module file (relative: to the cwd at register, or the config).',
        ),
        export: nonEmpty().default('default'),
        ...timing,
      })
      .describe('Healthy when the exported function returns true or { ok: true }.'),
  ])
  .meta({ id: 'atomvisorProbe', description: 'A health probe (docs/health.md).' });

export type ProbeKind = z.output<typeof probeSchema>['kind'];
export const PROBE_KINDS: readonly ProbeKind[] = probeSchema.options.map((o) => o.shape.kind.value);

/** A probe as users write it (ProbeSpec) and as parsed, defaults filled in. */
export type ProbeSpec = z.input<typeof probeSchema>;
type ParsedProbe = z.output<typeof probeSchema>;
export type ProbeTiming = Partial<Pick<ProbeSpec, keyof typeof timing>>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a probe checks, without its timing: also the piscina task's payload (minus context). */
export type ProbeCheck = DistributiveOmit<ParsedProbe, keyof typeof timing>;

export type ResolvedProbe = { name: ProbeName; check: ProbeCheck } & Pick<
  ParsedProbe,
  keyof typeof timing
>;

export interface ResolvedProbes {
  liveness: ResolvedProbe | undefined;
  readiness: ResolvedProbe | undefined;
  startup: ResolvedProbe | undefined;
}

/** The probe schema for the `name` field: Kubernetes' rule on successThreshold, and resolved. */
function probeFor(name: ProbeName) {
  return probeSchema
    .superRefine((probe, ctx) => {
      if (name !== 'readiness' && probe.successThreshold !== 1)
        ctx.addIssue({
          code: 'custom',
          path: ['successThreshold'],
          input: probe.successThreshold,
          message: `must be 1 for ${name} probes (Kubernetes semantics), got ${probe.successThreshold}`,
        });
    })
    .transform((probe): ResolvedProbe => resolveParsed(name, probe));
}

/** The `liveness`, `readiness` and `startup` fields of a connection spec. */
export const probeFields = {
  liveness: probeFor('liveness')
    .optional()
    .describe('Kubernetes-style liveness probe: failing it restarts the process.'),
  readiness: probeFor('readiness')
    .optional()
    .describe('Failing it takes the replica out of service (no restart) until it passes.'),
  startup: probeFor('startup')
    .optional()
    .describe('Until it passes, the replica is unready and the other probes do not run.'),
};

function resolveParsed(name: ProbeName, probe: ParsedProbe): ResolvedProbe {
  const check: Record<string, unknown> = {};
  const resolved: Record<string, unknown> = { name, check };
  for (const [key, value] of Object.entries(probe)) {
    if ((TIMING_KEYS as string[]).includes(key)) resolved[key] = value;
    else check[key] = value;
  }
  if (probe.kind === 'jsonrpc') check.params = probe.params;
  if (probe.kind === 'module') check.path = toPath(probe.path);
  return resolved as ResolvedProbe;
}

/** The probes of `spec` (an object holding liveness/readiness/startup), errors under `field`. */
export function resolveProbes(
  spec: Readonly<Record<string, unknown>>,
  field: string,
): ResolvedProbes {
  return {
    liveness: resolveProbe(spec.liveness, 'liveness', `${field}.liveness`),
    readiness: resolveProbe(spec.readiness, 'readiness', `${field}.readiness`),
    startup: resolveProbe(spec.startup, 'startup', `${field}.startup`),
  };
}

export function resolveProbe(
  input: unknown,
  name: ProbeName,
  field: string,
): ResolvedProbe | undefined {
  return parseOrThrow(probeFields[name], input, field);
}

/** A module probe's file as an absolute path (relative paths are taken from the cwd at register). */
function toPath(path: string): string {
  if (path.startsWith('file:')) return fileURLToPath(path);
  return isAbsolute(path) ? path : resolve(path);
}
