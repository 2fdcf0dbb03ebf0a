/**
 * The HTTP endpoint of a running `atomvisor run` (http.ts serves it) and its metrics, as the
 * settings change: started at start when the flags or the config ask for one (a failure there
 * is the start's failure), moved or stopped by a reload — where a failure leaves the old endpoint
 * serving — and closed at shutdown. The metrics are made with the first endpoint and kept while
 * there is one.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { HttpSettings } from './flags.ts';
import { type StatusEndpoint, startEndpoint } from './http.ts';
import type { Reporter } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { describeError } from './reload.ts';
import type { RunStatus } from './status.ts';

export class RunEndpoint {
  readonly #coordinator: Coordinator;
  readonly #status: RunStatus;
  readonly #reporter: Reporter;
  #endpoint: StatusEndpoint | undefined;
  #metrics: Metrics | undefined;
  /** Set by close(): an endpoint that finishes starting after it is closed at once, not kept. */
  #closed = false;

  constructor(coordinator: Coordinator, status: RunStatus, reporter: Reporter) {
    this.#coordinator = coordinator;
    this.#status = status;
    this.#reporter = reporter;
  }

  /** The endpoint serving now, if any. */
  get current(): StatusEndpoint | undefined {
    return this.#endpoint;
  }

  /** The first endpoint, at start. Throws when it cannot listen. */
  async start(settings: HttpSettings): Promise<void> {
    if (this.#closed) return;
    this.#metrics = createMetrics(this.#coordinator, { status: this.#status });
    const endpoint = await startEndpoint(settings, this.#status, this.#metrics);
    if (await this.#closedMeanwhile(endpoint)) return;
    this.#endpoint = endpoint;
    this.#listening(endpoint);
  }

  /**
   * Move the endpoint to `settings` (or stop it, for undefined); on failure the old one stays
   * and the error is returned.
   */
  async move(settings: HttpSettings | undefined): Promise<string | undefined> {
    if (this.#closed) return undefined;
    const old = this.#endpoint;
    if (settings === undefined) {
      this.#endpoint = undefined;
      await old?.close();
      this.#metrics?.close();
      this.#metrics = undefined;
      this.#reporter.event('http-closed', {});
      return undefined;
    }
    this.#metrics ??= createMetrics(this.#coordinator, { status: this.#status });
    // The same port on another address may clash with the old listener: free it first then.
    const samePort = old !== undefined && settings.port !== 0 && settings.port === old.address.port;
    if (samePort) await old?.close();
    let endpoint: StatusEndpoint;
    try {
      endpoint = await startEndpoint(settings, this.#status, this.#metrics);
    } catch (error) {
      this.#reporter.event('http-failed', { ...settings, error: describeError(error) });
      if (samePort && old !== undefined) {
        // Put the old one back (best effort).
        const back = await startEndpoint(
          { host: old.address.address, port: old.address.port },
          this.#status,
          this.#metrics,
        ).catch(() => undefined);
        const kept = back !== undefined && !(await this.#closedMeanwhile(back));
        this.#endpoint = kept ? back : undefined;
      }
      return describeError(error);
    }
    if (await this.#closedMeanwhile(endpoint)) return undefined;
    this.#endpoint = endpoint;
    if (!samePort) await old?.close();
    this.#listening(endpoint);
    return undefined;
  }

  /** Shutdown: stop listening (open connections are cut), stop the metrics. */
  async close(): Promise<void> {
    this.#closed = true;
    const endpoint = this.#endpoint;
    this.#endpoint = undefined;
    await endpoint?.close();
    this.#metrics?.close();
  }

  /** A shutdown came while `endpoint` was starting: close it rather than keep a listener. */
  async #closedMeanwhile(endpoint: StatusEndpoint): Promise<boolean> {
    if (!this.#closed) return false;
    await endpoint.close();
    return true;
  }

  #listening(endpoint: StatusEndpoint): void {
    this.#reporter.event('listening', {
      url: endpoint.url,
      host: endpoint.address.address,
      port: endpoint.address.port,
    });
  }
}
