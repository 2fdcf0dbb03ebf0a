/**
 * RunEndpoint, the HTTP endpoint of `atomvisor run` over its lifetime, on a real socket: a
 * shutdown that comes while the endpoint is still starting leaves no listener behind (the
 * endpoint finishes starting, is closed at once and never reported), and nothing starts after it.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RunEndpoint } from '../../src/run/endpoint.ts';
import type { Fields, Reporter } from '../../src/run/log.ts';
import { RunStatus } from '../../src/run/status.ts';
import { coordinatorsFor } from '../helpers/coordinators.ts';

const coordinators = coordinatorsFor({ ioWorkers: 1 });
afterEach(() => coordinators.closeAll());

function recorder(): Reporter & { events: [string, Fields | undefined][] } {
  const events: [string, Fields | undefined][] = [];
  return { events, event: (name, fields) => void events.push([name, fields]) };
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('RunEndpoint', () => {
  it('a shutdown during the start leaves no listener; start and move after it do nothing', async () => {
    const coordinator = coordinators.make();
    const reporter = recorder();
    const endpoint = new RunEndpoint(coordinator, new RunStatus(coordinator), reporter);

    // The control: started and closed in turn, it listened, then stops.
    await endpoint.start({ host: '127.0.0.1', port: 0 });
    const port = endpoint.current?.address.port;
    expect(port).toBeGreaterThan(0);
    expect(await listening(port as number)).toBe(true);
    await endpoint.close();
    expect(await listening(port as number)).toBe(false);

    const racing = new RunEndpoint(coordinator, new RunStatus(coordinator), reporter);
    const starting = racing.start({ host: '127.0.0.1', port: port as number });
    await racing.close(); // the shutdown, before the listener is up
    await starting;
    expect(racing.current).toBeUndefined();
    expect(await listening(port as number)).toBe(false);
    await racing.start({ host: '127.0.0.1', port: port as number });
    expect(await racing.move({ host: '127.0.0.1', port: port as number })).toBeUndefined();
    expect(racing.current).toBeUndefined();
    expect(await listening(port as number)).toBe(false);
    // Only the control's start was reported.
    expect(reporter.events.filter(([name]) => name === 'listening')).toHaveLength(1);
  });
});
