// The engine's worker threads, both sides: the pool's end sends one request at a time and gets
// its reply (a UserError keeps its hint and code across the thread; a thread that dies fails
// what it was doing and every later call), and the thread's end answers each request with its
// handler. The data-parallel pool (pool.ts, pool-host.ts) runs every engine's workers on it.
import { parentPort, Worker } from 'node:worker_threads';
import { UserError } from '../../common/errors.ts';

interface WireError {
  name: string;
  message: string;
  hint?: string;
  code?: string;
}

type Message<Reply> = { ok: true; reply: Reply } | { ok: false; error: WireError };

export class WorkerThread<Req, Reply> {
  private readonly worker: Worker;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;
  private readonly what: string;

  /** `what` names the thread in errors ("engine worker", "training worker"). */
  constructor(script: URL, what: string) {
    this.what = what;
    this.worker = new Worker(script);
    this.worker.on('message', (m: Message<Reply>) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (m.ok) p.resolve(m.reply);
      else
        p.reject(
          m.error.name === 'UserError'
            ? new UserError(m.error.message, m.error.hint ?? '', m.error.code)
            : new Error(m.error.message),
        );
    });
    const fail = (e: Error) => {
      this.dead = e;
      this.pending?.reject(e);
      this.pending = null;
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`${this.what} exited with code ${code}`));
    });
  }

  call(req: Req, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error(`${this.what} is busy`));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(req, transfer);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * The thread's end: answers every request with `handle`; `transfer` names the buffers a reply
 * hands over instead of copying, and the thread closes after a reply `last` says is the last.
 */
export function serveRequests<Req, Reply>(
  handle: (req: Req) => Promise<Reply>,
  transfer: (reply: Reply) => ArrayBuffer[],
  last: (reply: Reply) => boolean,
): void {
  const port = parentPort!;
  port.on('message', (req: Req) => {
    handle(req).then(
      (reply) => {
        port.postMessage({ ok: true, reply } satisfies Message<Reply>, transfer(reply));
        if (last(reply)) port.close();
      },
      (e: unknown) => {
        const err = e as Error & { hint?: string; code?: string };
        port.postMessage({
          ok: false,
          error: { name: err.name, message: err.message, hint: err.hint, code: err.code },
        } satisfies Message<Reply>);
      },
    );
  });
}
