/**
 * One benchmark case in its own process: `child.ts <suite> <case-id> <profile-json>`. Loads the
 * suite, runs the case, and sends its measurements to the runner over the IPC channel. A case that
 * throws exits non-zero with the error on stderr, which the runner reports as the failure.
 */
import type { Profile } from './suite.ts';
import { loadSuite } from './suites/index.ts';

export interface ChildResult {
  measurements: import('./suite.ts').Measurement[];
}

async function runChild(argv: string[]): Promise<number> {
  const [ref, caseId, profileJson] = argv;
  if (!ref || !caseId || !profileJson) {
    console.error('usage: child.ts <suite> <case-id> <profile-json>');
    return 2;
  }
  const profile = JSON.parse(profileJson) as Profile;
  const loaded = await loadSuite(ref);
  if (!loaded.ok) {
    console.error(`suite ${ref}: ${loaded.reason}`);
    return 1;
  }
  const found = loaded.suite.cases(profile).find((c) => c.id === caseId);
  if (!found) {
    console.error(`suite ${ref} has no case ${JSON.stringify(caseId)}`);
    return 1;
  }
  const measurements = await found.run(profile);
  const result: ChildResult = { measurements };
  if (!process.send) {
    // Run by hand (no runner): print the result.
    console.log(JSON.stringify(result, null, 2));
    return 0;
  }
  await new Promise<void>((resolve, reject) =>
    process.send!(result, undefined, undefined, (error) => (error ? reject(error) : resolve())),
  );
  return 0;
}

try {
  const code = await runChild(process.argv.slice(2));
  // Exit now: a case's leftover handles (a worker not yet terminated) must not hold the process.
  process.exit(code);
} catch (error) {
  console.error((error as Error)?.stack ?? String(error));
  process.exit(1);
}
