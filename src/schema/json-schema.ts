/**
 * JSON Schema from the zod schemas, for editors: what a config file may hold, with defaults,
 * ranges and descriptions. Input side (what a user writes, not what it resolves to); defaults that
 * depend on the machine are left out (their description names them), so the output is the same
 * everywhere and can be shipped.
 */
import { z } from 'zod';
import { MACHINE_DEFAULTS } from './fields.ts';

export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    override: (ctx) => {
      if (MACHINE_DEFAULTS.has(ctx.zodSchema as unknown as z.ZodType))
        delete ctx.jsonSchema.default;
    },
  }) as Record<string, unknown>;
}
