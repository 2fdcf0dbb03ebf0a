/**
 * Errors of the race harness. Bad arguments, bad test definitions, non-shareable state and bad
 * traces are InvalidArgumentError (src/errors.ts) naming the field; these are the rest.
 */
import { AtomvisorError } from '../errors.ts';

/** An error as it crosses from an actor thread or lands in a report. */
export interface ErrorInfo {
  name: string;
  /** The error's `code`, when it is a string (atomvisor's errors have one). */
  code?: string;
  message: string;
}

/** `error` as an ErrorInfo; something thrown that is not an Error gets the name `nonErrorName`. */
export function describeError(error: unknown, nonErrorName = 'Error'): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: error.message,
    };
  }
  return { name: nonErrorName, message: String(error) };
}

/** A test file could not be imported (syntax error, missing tsx for a .ts file, ...). */
export class RaceLoadError extends AtomvisorError {
  readonly file: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super('ERR_ATOMVISOR_RACE_LOAD', `cannot load race test file ${file}: ${reason}`, options);
    this.file = file;
  }
}

/** Something explore mode cannot model (e.g. Atomics.waitAsync, an async actor). */
export class RaceUnsupportedError extends AtomvisorError {
  constructor(what: string, hint: string) {
    super('ERR_ATOMVISOR_RACE_UNSUPPORTED', `${what} is not supported in explore mode: ${hint}`);
  }
}

/** No test of that name in the given files (or the built-in suites). */
export class RaceTestNotFoundError extends AtomvisorError {
  constructor(name: string, where: string) {
    super(
      'ERR_ATOMVISOR_RACE_TEST_NOT_FOUND',
      `no race test named ${JSON.stringify(name)} in ${where}`,
    );
  }
}
