/**
 * Errors of the race harness. Bad arguments, bad test definitions, non-shareable state and bad
 * traces are InvalidArgumentError (src/errors.ts) naming the field; these are the rest.
 */
import { AtomvisorError } from '../errors.ts';

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
