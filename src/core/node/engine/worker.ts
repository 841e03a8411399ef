// Worker-thread entry of the engine pool: one EngineHost per thread.
import { EngineHost, type Reply, type Request } from './protocol.ts';
import { serveRequests } from './worker-thread.ts';

const host = new EngineHost();
serveRequests<Request, Reply>(
  (req) => host.handle(req),
  (reply) => (reply.op === 'predict' ? [reply.probs.buffer as ArrayBuffer] : []),
  (reply) => reply.op === 'close',
);
