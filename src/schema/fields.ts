/**
 * The building blocks of atomvisor's input schemas (coordinator options, connection specs, probe
 * specs, the `atomvisor run` config): the same kinds of field always get the same checks, so they
 * get the same error reasons (src/schema/issues.ts) and the same JSON Schema (json-schema.ts).
 */
import { z } from 'zod';
import { describe } from '../shm/validate.ts';

export const DAY_MS = 86_400_000;

/** Milliseconds, not necessarily whole, in [min, max] (by default up to a day). */
export const ms = (min = 0, max = DAY_MS) => z.number().min(min).max(max);

/** A whole number in [min, max]. */
export const int = (min: number, max: number) => z.int().min(min).max(max);

export const nonEmpty = () => z.string().min(1);

/**
 * A function: allowed in the API and in .js/.ts configs, never in JSON (the JSON Schema does not
 * offer it).
 */
export const fn = <T>() =>
  z.custom<T>((value) => typeof value === 'function', {
    error: (issue) => `expected a function, got ${describe(issue.input)}`,
  });

/** Schemas whose default depends on the machine (its cores): left out of the JSON Schema. */
export const MACHINE_DEFAULTS = new WeakSet<z.ZodType>();

/** `schema` (a field with a default computed on each parse) marked as one of MACHINE_DEFAULTS. */
export function machineDefault<S extends z.ZodType>(schema: S): S {
  MACHINE_DEFAULTS.add(schema);
  return schema;
}
