/**
 * LogFile, the writer behind `atomvisor run`'s log files, on real files: it rotates at maxBytes
 * (no file ever larger), keeps `keep` rotated files and deletes the oldest, cleans up what a run
 * with a larger `keep` left, cuts a line too long for any file, and — on a "disk" that does not
 * keep up (a FIFO nobody reads yet) — never blocks its caller: it drops lines with a count and
 * says so in the file once writing resumes.
 */
import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogFile, logFileClashes, logFileName, makeDirectory } from '../../src/run/log-files.ts';
import { CLI, EXAMPLE_CONFIG, killAll, start } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'atomvisor-log-files-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = () => join(dir, `case-${++n}`, 'server.log');
const line = (i: number) => `line ${i} ${'y'.repeat(40)}`;
const numbers = (text: string) => [...text.matchAll(/^line (\d+) /gm)].map((m) => Number(m[1]));

describe('LogFile', () => {
  it('rotates at maxBytes, keeps `keep` files, deletes the oldest, and keeps the order', async () => {
    const path = fresh();
    const file = new LogFile(path, { maxBytes: 1_000, keep: 2 });
    for (let i = 1; i <= 100; i++) file.write(line(i));
    await file.flush();
    expect(file.stats()).toMatchObject({ lines: 100, dropped: 0, errors: 0 });
    // 100 lines of 48 bytes, 20 to a 1000-byte file: 5 files written, 4 rotations, 3 kept.
    expect(file.stats().rotations).toBe(4);
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const p of [path, `${path}.1`, `${path}.2`]) {
      expect(statSync(p).size).toBeLessThanOrEqual(1_000);
      expect(readFileSync(p, 'utf8').endsWith('\n')).toBe(true);
    }
    // Oldest to newest: .2, .1, the file itself: lines 41..100 in order, whole.
    const kept = [`${path}.2`, `${path}.1`, path].map((p) => readFileSync(p, 'utf8')).join('');
    expect(numbers(kept)).toEqual(Array.from({ length: 60 }, (_, i) => 41 + i));
    expect(await file.close()).toBe(true);
  });

  it('appends to an existing file, removes rotated files beyond `keep`, and cuts an overlong line', async () => {
    const path = fresh();
    const first = new LogFile(path, { maxBytes: 1_000, keep: 5 });
    first.write('from an earlier run');
    await first.close();
    writeFileSync(`${path}.7`, 'left by a run that kept more files\n');
    writeFileSync(`${path}.1`, 'still wanted\n');
    const file = new LogFile(path, { maxBytes: 1_000, keep: 3 });
    file.write(`${'é'.repeat(600)}tail`); // 1 204 bytes: more than a whole file
    await file.flush();
    expect(existsSync(`${path}.7`)).toBe(false);
    // The long line did not fit after the first run's line: rotation, then it alone, cut.
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('from an earlier run\n');
    expect(readFileSync(`${path}.2`, 'utf8')).toBe('still wanted\n');
    const cut = readFileSync(path, 'utf8');
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1_000);
    expect(cut).toMatch(/^é+…\n$/); // cut between characters, marked
    await file.close();
  });

  it('with keep 0, a full file is simply started again', async () => {
    const path = fresh();
    const file = new LogFile(path, { maxBytes: 1_000, keep: 0 });
    for (let i = 1; i <= 50; i++) file.write(line(i));
    await file.close();
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(numbers(readFileSync(path, 'utf8'))).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
  });

  it('on a disk that does not keep up, write() never blocks: lines are dropped with a count, and the file says so', async () => {
    const path = fresh();
    execFileSync('mkdir', ['-p', join(path, '..')]);
    execFileSync('mkfifo', [path]); // its writes block until someone reads
    const drops: number[] = [];
    const file = new LogFile(path, {
      maxBytes: 100 * 2 ** 20,
      keep: 1,
      bufferBytes: 64 * 1024,
      onDrop: (lines) => drops.push(lines),
    });
    const total = 20_000; // ~1 MB: far more than the pipe and the buffer hold
    const started = performance.now();
    for (let i = 1; i <= total; i++) file.write(line(i));
    const writeMs = performance.now() - started;
    // The writes returned while nothing could be written: the caller's event loop still runs.
    let flushed = false;
    void file.flush().then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flushed).toBe(false);
    expect(file.stats().dropped).toBeGreaterThan(total / 2);
    expect(writeMs).toBeLessThan(2_000); // 20 000 queue operations; generous on a loaded machine

    // The reader arrives; the writer catches up. One more line after that brings the marker.
    let text = '';
    const reader = createReadStream(path, { encoding: 'utf8' });
    reader.on('data', (chunk) => {
      text += chunk;
    });
    await file.flush();
    file.write(line(total + 1));
    await file.close();
    await new Promise<void>((resolve) => reader.on('close', () => resolve()));
    const dropped = file.stats().dropped;
    expect(drops).toEqual([dropped]);
    const marker = new RegExp(
      `^\\S+ atomvisor: ${dropped} lines dropped \\(writing fell behind or failed\\)$`,
      'm',
    );
    expect(text).toMatch(marker);
    const got = numbers(text);
    // What was written is in order, and written + dropped is everything.
    expect(got.every((v, i) => i === 0 || v > (got[i - 1] as number))).toBe(true);
    expect(got.length + dropped).toBe(total + 1);
    expect(got.at(-1)).toBe(total + 1);
  });

  it('a file that cannot be opened: lines dropped and counted, the error reported once', async () => {
    const blocker = join(dir, `not-a-dir-${++n}`);
    writeFileSync(blocker, '');
    const errors: Error[] = [];
    const file = new LogFile(join(blocker, 'server.log'), {
      maxBytes: 1_000,
      keep: 1,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 10; i++) file.write(line(i));
    await file.flush();
    for (let i = 0; i < 10; i++) file.write(line(i)); // within the retry pause: dropped at once
    await file.flush();
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toMatch(/ENOTDIR|EEXIST/);
    expect(file.stats()).toMatchObject({ lines: 0, dropped: 20, errors: 1 });
    expect(await file.close()).toBe(true);
  });

  it('names files after their server, and refuses names that would share one', () => {
    expect(logFileName('files')).toBe('files.log');
    expect(logFileName('a/b c')).toBe('a_b_c.log');
    expect(logFileName('..x')).toBe('_x.log');
    expect(logFileClashes(['a/b', 'a_b', 'atomvisor', 'ok'])).toEqual([
      {
        name: 'a_b',
        path: 'servers.a_b',
        reason: expect.stringMatching(/a_b\.log would also be server "a\/b"'s/),
      },
      {
        name: 'atomvisor',
        path: 'servers.atomvisor',
        reason: expect.stringMatching(/atomvisor's own event log/),
      },
    ]);
  });
});

describe('makeDirectory (mkdir -p for the log directory)', () => {
  it('creates missing levels, accepts an existing directory, refuses a file in the way', async () => {
    const nested = join(dir, 'mk', 'a', 'b', 'c');
    await makeDirectory(nested);
    expect(statSync(nested).isDirectory()).toBe(true);
    await makeDirectory(nested); // already there: fine
    const file = join(dir, 'mk', 'a-file');
    writeFileSync(file, 'x');
    await expect(makeDirectory(file)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(join(file, 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  // Node's mkdir(dir, { recursive: true }) never settles for this path (it loops on ENOENT).
  it.runIf(existsSync('/proc/self'))(
    'fails on a path the kernel refuses (/proc/…) instead of hanging',
    async () => {
      await expect(makeDirectory('/proc/atomvisor-no-such/logs')).rejects.toMatchObject({
        code: 'ENOENT',
      });
      const run = start([...CLI, 'run', EXAMPLE_CONFIG, '--log-dir', '/proc/atomvisor-no-such']);
      const exit = await run.exited;
      expect(exit.code).toBe(1);
      expect(run.stderr()).toMatch(
        /logs\.dir: cannot write to \/proc\/atomvisor-no-such: .*ENOENT/,
      );
    },
  );
});
