/**
 * The package as a user installs it, for the package tests: `npm pack` (which builds through
 * `prepack`) into a temporary directory, then `npm install` of that tarball (and `extra`
 * packages, e.g. tsx) into an empty ES-module project. `remove()` deletes both directories.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export interface InstalledProject {
  /** The user's project directory, with node_modules/atomvisor installed from the tarball. */
  dir: string;
  remove(): Promise<void>;
}

export async function installPacked(extra: string[] = []): Promise<InstalledProject> {
  const packDir = await mkdtemp(join(tmpdir(), 'atomvisor-pack-'));
  const dir = await mkdtemp(join(tmpdir(), 'atomvisor-user-'));
  const remove = () =>
    Promise.all([packDir, dir].map((d) => rm(d, { recursive: true, force: true }))).then(() => {});
  try {
    await run(NPM, ['pack', '--silent', '--pack-destination', packDir], { cwd: REPO });
    const [tarball] = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack produced no tarball');
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
    );
    await run(
      NPM,
      [
        'install',
        '--silent',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(packDir, tarball),
        ...extra,
      ],
      { cwd: dir },
    );
  } catch (error) {
    await remove();
    throw error;
  }
  return { dir, remove };
}
