/**
 * The zod schema of an `atomvisor run` config file, made of the API's own schemas: a server is a
 * connection spec (src/coordinator/spec.ts) plus `replicas`, its probes are probe specs
 * (src/probes/spec.ts), and the top level takes every coordinator option
 * (src/coordinator/options.ts) — so a config and an embedding accept the same values and report
 * the same field and reason for a bad one. Only what is the config's own is defined here.
 *
 * configJsonSchema() is the JSON Schema of the same thing for editors (`$schema` in a config file;
 * `atomvisor run --print-schema`; shipped as schema/atomvisor.config.schema.json). It leaves out
 * the function fields (onStart, onRequest, onNotification), which only .js/.ts configs can hold.
 */
import { z } from 'zod';
import { COORDINATOR_OPTION_FIELDS, replicasSchema } from '../coordinator/options.ts';
import { SPEC_DATA_FIELDS, SPEC_FIELDS, specRules } from '../coordinator/spec.ts';
import { DAY_MS, int, ms, nonEmpty } from '../schema/fields.ts';
import { toJsonSchema } from '../schema/json-schema.ts';
import { DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_BYTES, logFileClashes } from './log-files.ts';

const replicas = replicasSchema.default(1).describe('Identical processes for this key.');

/** Config fields the command line can override (--http-host/-port, --log-dir, --shutdown-timeout). */
export const RUN_FLAG_SCHEMAS = {
  httpHost: nonEmpty().default('127.0.0.1').describe('The address to bind.'),
  httpPort: int(0, 65_535).describe('0: any free port.'),
  logDir: nonEmpty().describe("Relative to the config file's directory."),
  shutdownTimeoutMs: ms(0, DAY_MS)
    .default(10_000)
    .describe(
      'On SIGINT/SIGTERM, how long in-flight work may finish before processes are stopped.',
    ),
};

/** The fields that are the config's own, not a coordinator option. */
const RUN_FIELDS = {
  http: z
    .strictObject({
      host: RUN_FLAG_SCHEMAS.httpHost,
      port: RUN_FLAG_SCHEMAS.httpPort,
    })
    .optional()
    .describe('Serve /healthz /readyz /status /metrics.'),
  shutdownTimeoutMs: RUN_FLAG_SCHEMAS.shutdownTimeoutMs,
  logs: z
    .strictObject({
      dir: RUN_FLAG_SCHEMAS.logDir,
      maxBytes: int(1024, 2 ** 40)
        .default(DEFAULT_LOG_MAX_BYTES)
        .describe('Rotate a file once it would grow past this (bytes).'),
      keep: int(0, 1000)
        .default(DEFAULT_LOG_KEEP)
        .describe('Rotated files kept (NAME.log.1 … NAME.log.N); the oldest is deleted.'),
    })
    .optional()
    .describe(
      "Each server's output to DIR/NAME.log and the events to DIR/atomvisor.log, rotated by size.",
    ),
  detach: z
    .boolean()
    .default(false)
    .describe('Keep running when the process that started atomvisor goes away.'),
};

/** The top-level fields that are coordinator options (what createCoordinator() gets). */
export const COORDINATOR_OPTION_KEYS = Object.keys(COORDINATOR_OPTION_FIELDS);

function configSchemaOf<S extends z.ZodType>(server: S) {
  return z
    .strictObject({
      $schema: z
        .string()
        .optional()
        .describe('The JSON Schema of this file, for editors; ignored.'),
      servers: z
        .record(nonEmpty(), server)
        .refine((servers) => Object.keys(servers).length > 0, {
          message: 'name at least one server',
        })
        .meta({ description: 'The servers to supervise, by name.', minProperties: 1 }),
      ...RUN_FIELDS,
      ...COORDINATOR_OPTION_FIELDS,
    })
    .superRefine((config, ctx) => {
      if (config.logs === undefined) return;
      for (const clash of logFileClashes(Object.keys(config.servers)))
        ctx.addIssue({ code: 'custom', path: ['servers', clash.name], message: clash.reason });
    })
    .meta({
      title: 'atomvisor run config',
      description:
        'The servers `atomvisor run` supervises, and the coordinator options it runs them with (docs/run.md).',
    });
}

/** What parseConfig checks: .js/.ts configs may hold functions (onStart, onRequest, ...). */
export const configSchema = configSchemaOf(
  z.strictObject({ ...SPEC_FIELDS, replicas }).superRefine(specRules),
);

/** The JSON config file's schema: the same, without the function fields. */
const jsonConfigSchema = configSchemaOf(z.strictObject({ ...SPEC_DATA_FIELDS, replicas }));

/** The JSON Schema of a config file (draft 2020-12), for editors and `--print-schema`. */
export function configJsonSchema(): Record<string, unknown> {
  return toJsonSchema(jsonConfigSchema);
}

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
