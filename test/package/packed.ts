/**
 * The package as a user installs it, for the package tests: `npm pack` (which builds through
 * `prepack`), then `npm install` of that tarball (and `extra` packages, e.g. tsx) into an empty
 * ES-module project. `remove()` deletes what it made.
 *
 * Packing (a full build) is the slow part. When the checkout is clean (`git status` shows nothing,
 * untracked files included) the tarball is a function of the HEAD commit, so it is kept in
 * node_modules/.cache/atomvisor-pack/HEAD.tgz and reused by the next package test file and the
 * next `npm test` (CI runs it twice, on Node 20 and 24, after one `npm ci`, which empties that
 * cache). A dirty checkout is packed afresh every time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const CACHE = join(REPO, 'node_modules', '.cache', 'atomvisor-pack');

export interface InstalledProject {
  /** The user's project directory, with node_modules/atomvisor installed from the tarball. */
  dir: string;
  remove(): Promise<void>;
}

/** The HEAD commit when the checkout has no change at all, else undefined. */
async function cleanHead(): Promise<string | undefined> {
  try {
    const { stdout: status } = await run(
      'git',
      ['status', '--porcelain', '--untracked-files=all'],
      {
        cwd: REPO,
      },
    );
    if (status.trim() !== '') return undefined;
    const { stdout: head } = await run('git', ['rev-parse', 'HEAD'], { cwd: REPO });
    return /^[0-9a-f]{40}$/.test(head.trim()) ? head.trim() : undefined;
  } catch {
    return undefined; // not a git checkout
  }
}

/** Pack into `dir`; the tarball's path. */
async function pack(dir: string): Promise<string> {
  await run(NPM, ['pack', '--silent', '--pack-destination', dir], { cwd: REPO });
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack produced no tarball');
  return join(dir, tarball);
}

export async function installPacked(extra: string[] = []): Promise<InstalledProject> {
  const made: string[] = [];
  const remove = () =>
    Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))).then(() => {});
  try {
    const head = await cleanHead();
    let tarball: string;
    const cached = head === undefined ? undefined : join(CACHE, `${head}.tgz`);
    if (cached !== undefined && existsSync(cached)) {
      tarball = cached;
    } else {
      const packDir = await mkdtemp(join(tmpdir(), 'atomvisor-pack-'));
      made.push(packDir);
      tarball = await pack(packDir);
      if (cached !== undefined) {
        // Only the current commit's tarball is kept; it appears whole or not at all.
        await rm(CACHE, { recursive: true, force: true });
        await mkdir(CACHE, { recursive: true });
        const partial = `${cached}.${process.pid}.partial`;
        await copyFile(tarball, partial);
        await rename(partial, cached);
        tarball = cached;
      }
    }
    const dir = await mkdtemp(join(tmpdir(), 'atomvisor-user-'));
    made.push(dir);
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
    );
    await run(
      NPM,
      ['install', '--silent', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...extra],
      { cwd: dir },
    );
    return { dir, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
