// Does one channel operation per command from the test and replies with the outcome, so the test
// can have a worker parked inside a blocking receive() or send() and then act on the channel.
//   'receive'       blocking receive()                     → { message } (null once closed)
//   'receive-short' receive() with a 30 ms timeout          → { message } or { code }
//   'fill'          trySend() until 'full'                  → { filled, result }
//   'send'          blocking send() of [-1]                 → { sent: true } or { code }
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { SharedChannel, type SharedChannelHandle } from '../../../src/shm/channel.ts';

const channel = SharedChannel.from((workerData as { handle: SharedChannelHandle }).handle);
const port = parentPort!;

function fill(): { filled: number; result: string } {
  for (let filled = 0; ; filled++) {
    const result = channel.trySend([filled]);
    if (result !== 'sent') return { filled, result };
  }
}

port.on('message', (command: string) => {
  try {
    switch (command) {
      case 'receive': {
        const message = channel.receive();
        port.postMessage({ message: message && Array.from(message) });
        break;
      }
      case 'receive-short': {
        const message = channel.receive(undefined, { timeoutMs: 30 });
        port.postMessage({ message: message && Array.from(message) });
        break;
      }
      case 'fill':
        port.postMessage(fill());
        break;
      case 'send':
        channel.send([-1]);
        port.postMessage({ sent: true });
        break;
      default:
        port.postMessage({ error: `unknown command ${command}` });
    }
  } catch (error) {
    const e = error as { code?: string; message: string };
    port.postMessage({ error: e.message, code: e.code });
  }
});
port.postMessage({ ready: true, threadId });
