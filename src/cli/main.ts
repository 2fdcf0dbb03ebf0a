#!/usr/bin/env node
/**
 * The `atomvisor` command. Subcommands land with their issues; until then they say so plainly and
 * exit non-zero, so no script mistakes a stub for a result.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: atomvisor <command> [options]

commands:
  bench     benchmark the shared-memory primitives (preview of the full suite)
  race      run the race harness               (not yet implemented)
  version   print the version

options:
  -h, --help  show this help`;

const PENDING: Record<string, string> = {
  race: 'the race harness is not yet implemented in this version of atomvisor',
};

/** The package's version, found from src/cli (tsx) or dist/src/cli (built) alike. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'atomvisor' && pkg.version) return pkg.version;
    } catch {
      // not at this level; try the next one up
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: false,
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'version') {
    console.log(packageVersion());
    return 0;
  }
  if (command === 'bench') {
    const bench = await import('../../bench/main.ts');
    return bench.main(argv.slice(1));
  }
  const pending = PENDING[command];
  if (pending !== undefined) {
    console.error(`atomvisor ${command}: not yet — ${pending}`);
    return 3;
  }
  console.error(`atomvisor: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
