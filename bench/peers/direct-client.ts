/**
 * The hand-written client a user would write instead of atomvisor: one child process, newline
 * JSON-RPC on its stdio, driven from the main thread — a pending map by id, one `stdin.write` per
 * request, stdout split into lines as Buffers and parsed once. No supervision, no timeouts, no
 * queue: the fastest honest baseline for the request path (bench/suites/request-path.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ServerCommand } from '../fixtures/rpc-server.ts';

export class DirectClient {
  readonly child: ChildProcess;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #partial: Buffer | undefined;

  constructor(server: ServerCommand) {
    this.child = spawn(server.command, server.args, {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    });
    this.#exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        for (const p of this.#pending.values()) p.reject(new Error('process exited'));
        this.#pending.clear();
        resolve();
      });
    });
    this.child.stdin?.on('error', () => {});
    this.child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  request(method: string, params?: unknown): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => {
      try {
        process.kill(-(this.child.pid ?? 0), 'SIGKILL');
      } catch {}
    }, 2_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #onData(chunk: Buffer): void {
    let data = this.#partial === undefined ? chunk : Buffer.concat([this.#partial, chunk]);
    this.#partial = undefined;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl === -1) break;
      this.#onLine(data.toString('utf8', start, nl));
      start = nl + 1;
    }
    if (start < data.length) {
      data = data.subarray(start);
      this.#partial = Buffer.from(data);
    }
  }

  #onLine(line: string): void {
    const message = JSON.parse(line) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id as number);
    if (message.error) pending.reject(new Error(message.error.message));
    else pending.resolve(message.result);
  }
}
