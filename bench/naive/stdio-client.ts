/**
 * A plain JSON-RPC client over a child's stdio, driven from the main thread — what the naive
 * pools of the incidents held per connection (the Go pool's `client.Client`, the Python manager's
 * connection, the Rust `AcpConnection`). Requests are multiplexed by id; `close()` does what the
 * Go client's Close did: end stdin and wait for the process to exit — with no deadline, so a
 * process that ignores EOF makes it wait forever (F2).
 *
 * Children are spawned in their own process group so the benchmark can always clean up
 * (`kill()`), whatever the naive code under test is stuck on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ServerCommand } from '../fixtures/rpc-server.ts';
import { killGroup } from '../scenarios/processes.ts';

export class StdioClient {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #nextId = 1;
  #buffered = '';
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #alive = true;

  constructor(server: ServerCommand) {
    this.child = spawn(server.command, server.args, {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.#alive = false;
        for (const p of this.#pending.values()) p.reject(new Error('process exited'));
        this.#pending.clear();
        resolve();
      });
      this.child.once('error', () => resolve());
    });
    this.child.stdin?.on('error', () => {}); // EPIPE after a kill
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => this.#onData(text));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** One request; rejects after `timeoutMs` when given (the id is then forgotten). */
  request(method: string, params?: unknown, timeoutMs?: number): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(new Error(`${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin?.write(
        `${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })}\n`,
      );
    });
  }

  /** Resolves once the process answers a ping (it has started). */
  async started(): Promise<void> {
    await this.request('ping', undefined, 30_000);
  }

  /** The naive close: end stdin, then wait for the exit — however long that takes. */
  async close(): Promise<void> {
    this.child.stdin?.end();
    await this.exited;
  }

  /** Harness cleanup, not part of any design: SIGKILL the group and wait for the exit. */
  async kill(): Promise<void> {
    killGroup(this.child.pid);
    await this.exited;
  }

  #onData(text: string): void {
    this.#buffered += text;
    let nl = this.#buffered.indexOf('\n');
    while (nl !== -1) {
      const line = this.#buffered.slice(0, nl);
      this.#buffered = this.#buffered.slice(nl + 1);
      nl = this.#buffered.indexOf('\n');
      let message: { id?: number; result?: unknown; error?: { message: string } };
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (pending === undefined) continue;
      this.#pending.delete(message.id as number);
      if (message.error) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result);
    }
  }
}

/** Start `n` clients and wait until each answers. */
export async function startClients(server: ServerCommand, n: number): Promise<StdioClient[]> {
  const clients = Array.from({ length: n }, () => new StdioClient(server));
  try {
    await Promise.all(clients.map((c) => c.started()));
  } catch (error) {
    await Promise.all(clients.map((c) => c.kill()));
    throw error;
  }
  return clients;
}
