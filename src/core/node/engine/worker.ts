// Worker-thread entry of the engine pool: one EngineHost per thread.
import { parentPort } from 'node:worker_threads';
import { EngineHost, type Request } from './protocol.ts';

const host = new EngineHost();
parentPort!.on('message', (req: Request) => {
  host.handle(req).then(
    (reply) => {
      const transfer = reply.op === 'predict' ? [reply.probs.buffer as ArrayBuffer] : [];
      parentPort!.postMessage({ ok: true, reply }, transfer);
      if (reply.op === 'close') parentPort!.close();
    },
    (e: unknown) => {
      const err = e as Error & { hint?: string; code?: string };
      parentPort!.postMessage({
        ok: false,
        error: { name: err.name, message: err.message, hint: err.hint, code: err.code },
      });
    },
  );
});
