/**
 * The one hand-written reader left: unknown-key refusal for option bags on hot paths that have no
 * schema (request() options, checked per request). Every input shape with a schema — coordinator
 * options, connection and probe specs, register() options, config files — is checked by its zod
 * schema instead (src/schema/issues.ts words the errors).
 */
import { InvalidArgumentError } from './errors.ts';
import { describe } from './shm/validate.ts';

export type Bag = Readonly<Record<string, unknown>>;

/** `value` as a plain object (undefined → {}), refusing keys not in `allowed`. */
export function readObject(value: unknown, field: string, allowed: readonly string[]): Bag {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(
      field,
      `expected an object, got ${Array.isArray(value) ? 'an array' : describe(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(
        `${field}.${key}`,
        `unknown option (known: ${allowed.join(', ')})`,
      );
    }
  }
  return value as Bag;
}
