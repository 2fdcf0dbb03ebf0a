/**
 * Reading user options: one small reader per type, each throwing InvalidArgumentError that names
 * the full field path (`options.restart.maxRestarts`) and the reason. Unknown keys are refused too,
 * so a misspelt option is an error instead of a silently ignored default.
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

export function readNumber(
  bag: Bag,
  key: string,
  field: string,
  spec: { default: number; min?: number; max?: number; integer?: boolean },
): number {
  const value = bag[key];
  if (value === undefined) return spec.default;
  const path = `${field}.${key}`;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidArgumentError(path, `expected a number, got ${describe(value)}`);
  }
  if (spec.integer && Number.isFinite(value) && !Number.isInteger(value)) {
    throw new InvalidArgumentError(path, `expected an integer, got ${value}`);
  }
  const min = spec.min ?? Number.NEGATIVE_INFINITY;
  const max = spec.max ?? Number.POSITIVE_INFINITY;
  if (value < min || value > max) {
    throw new InvalidArgumentError(path, `${value} is out of range [${min}, ${max}]`);
  }
  return value;
}

export function readOptionalNumber(
  bag: Bag,
  key: string,
  field: string,
  spec: { min?: number; max?: number; integer?: boolean },
): number | undefined {
  return bag[key] === undefined ? undefined : readNumber(bag, key, field, { ...spec, default: 0 });
}

export function readString(
  bag: Bag,
  key: string,
  field: string,
  spec: { default?: string; nonEmpty?: boolean } = {},
): string | undefined {
  const value = bag[key];
  if (value === undefined) return spec.default;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${field}.${key}`, `expected a string, got ${describe(value)}`);
  if (spec.nonEmpty && value.length === 0)
    throw new InvalidArgumentError(`${field}.${key}`, 'must not be empty');
  return value;
}

export function readBoolean(bag: Bag, key: string, field: string, fallback: boolean): boolean {
  const value = bag[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new InvalidArgumentError(
      `${field}.${key}`,
      `expected true or false, got ${describe(value)}`,
    );
  return value;
}

export function readStringArray(
  bag: Bag,
  key: string,
  field: string,
  fallback: readonly string[],
): string[] {
  const value = bag[key];
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value))
    throw new InvalidArgumentError(
      `${field}.${key}`,
      `expected an array of strings, got ${describe(value)}`,
    );
  value.forEach((item, i) => {
    if (typeof item !== 'string')
      throw new InvalidArgumentError(
        `${field}.${key}[${i}]`,
        `expected a string, got ${describe(item)}`,
      );
  });
  return [...(value as string[])];
}

export function readStringRecord(bag: Bag, key: string, field: string): Record<string, string> {
  const value = bag[key];
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(
      `${field}.${key}`,
      `expected an object of strings, got ${describe(value)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw new InvalidArgumentError(
        `${field}.${key}.${k}`,
        `expected a string, got ${describe(v)}`,
      );
    out[k] = v;
  }
  return out;
}
