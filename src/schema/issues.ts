/**
 * Turning zod issues into atomvisor's errors: the one place that words a validation failure, so
 * `createCoordinator()`, `register()` and an `atomvisor run` config file say the same thing about
 * the same bad value. A problem is a dotted field path (`options.restart.maxRestarts`,
 * `servers.web.liveness.kind`, `options.env.allow[0]`) and a reason (`must be ≥ 0, got -1`).
 *
 * The API throws the first problem as InvalidArgumentError; a config file lists them all
 * (ConfigError). Hot paths (request() arguments, shm constructors) do not come here: they keep
 * their cheap hand checks.
 */
import type { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import { describe } from '../shm/validate.ts';

export interface Problem {
  /** Dotted path of the field, '' for the value itself. */
  path: string;
  reason: string;
}

type Issue = z.core.$ZodIssue;

/** `prefix` and then `path`: `a.b`, `a[0]`, `a["odd key"]`. */
export function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(key)))
      out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** Every problem in `issues`, in zod's order (fields in schema order, then unknown keys). */
export function problemsOf(issues: readonly Issue[], prefix = ''): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({ path: joinPath(prefix, [...issue.path, key]), reason: 'unknown field' });
    } else {
      problems.push({ path: joinPath(prefix, issue.path), reason: reasonOf(issue) });
    }
  }
  return problems;
}

/**
 * `input` parsed by `schema`, or InvalidArgumentError for its first problem, the field named from
 * `field` (`'options'`, `'spec'`, `'options.spec'`).
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  field: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const [first] = problemsOf(issuesWithInput(schema, input), field);
  throw new InvalidArgumentError(first?.path ?? field, first?.reason ?? 'is invalid');
}

/**
 * The issues of an `input` that failed, with the bad values in them (`got 5`). Parsed again:
 * reporting inputs makes every parse slower, and a failure is the rare case.
 */
function issuesWithInput(schema: z.ZodType, input: unknown): readonly Issue[] {
  const result = schema.safeParse(input, { reportInput: true });
  return result.success ? [] : result.error.issues;
}

/** The reason of one issue, in the words atomvisor's errors use. */
export function reasonOf(issue: Issue): string {
  const got = () => gotOf(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      // reportInput leaves `input` out when there was nothing there.
      if (!('input' in issue) || issue.input === undefined) return 'is required';
      return `expected ${typeName(issue.expected)}, got ${got()}`;
    case 'invalid_union': {
      if (!('discriminator' in issue) || issue.discriminator === undefined) return issue.message;
      const options = ((issue as { options?: unknown[] }).options ?? []).join(', ');
      const value = (issue.input as Record<string, unknown> | undefined)?.[issue.discriminator];
      return value === undefined
        ? `is required (one of ${options})`
        : `expected one of ${options}, got ${gotOf(value)}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}, got ${got()}`
        : `expected one of ${issue.values.map(String).join(', ')}, got ${got()}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} items`;
      return `must be ${issue.inclusive === false ? '>' : '≥'} ${String(issue.minimum)}, got ${got()}`;
    case 'too_big':
      if (issue.origin === 'array') return `takes at most ${String(issue.maximum)} items`;
      return `must be ${issue.inclusive === false ? '<' : '≤'} ${String(issue.maximum)}, got ${got()}`;
    case 'invalid_key':
      // A record's key (a method name, a server name): its own first problem.
      return issue.issues[0] === undefined ? issue.message : reasonOf(issue.issues[0] as Issue);
    default:
      // custom (refinements and cross-field rules word their own reason), formats, ...
      return issue.message;
  }
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'record':
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function gotOf(value: unknown): string {
  return Array.isArray(value) ? 'an array' : describe(value);
}
