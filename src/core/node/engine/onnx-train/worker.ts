// Worker-thread entry of the onnxruntime training pool: one single-threaded training engine
// per thread, reading the pool's shared weights and writing its own shared gradients, then
// summing its slice of every worker's gradients into the whole batch's.
import { loadOrt } from '../../inference/ort-engine.ts';
import { OnnxTrainEngine } from './engine.ts';
import type { PoolReply, PoolRequest } from './pool.ts';
import { serveRequests } from '../worker-thread.ts';
import { combineRange } from '../data-parallel.ts';

let engine: OnnxTrainEngine | null = null;
let shareGrads: Float32Array[] = [];
let combined: Float32Array<ArrayBufferLike> = new Float32Array(0);

async function handle(req: PoolRequest): Promise<PoolReply> {
  switch (req.op) {
    case 'load': {
      engine ??= new OnnxTrainEngine(await loadOrt(), req.opts);
      const layout = await engine.load(req.artifacts, req.pre);
      engine.weights = new Float32Array(req.weights);
      shareGrads = req.grads.map((b) => new Float32Array(b));
      engine.grads = shareGrads[req.index]!;
      combined = new Float32Array(req.combined);
      return { op: 'load', layout, device: engine.device! };
    }
    case 'grad': {
      const r = await engine!.gradients(req.images, req.labels, req.count, req.aug);
      return { op: 'grad', loss: r.loss, correct: r.correct };
    }
    case 'combine':
      combineRange(combined, shareGrads, req.shareWeights, req.a, req.b);
      return { op: 'combine' };
    case 'predict':
      return {
        op: 'predict',
        probs: await engine!.predict(req.images, req.count, req.imageBytes, req.classes, req.chunk),
      };
    case 'close':
      await engine?.close();
      engine = null;
      return { op: 'close' };
  }
}

serveRequests<PoolRequest, PoolReply>(
  handle,
  (reply) => (reply.op === 'predict' ? [reply.probs.buffer as ArrayBuffer] : []),
  (reply) => reply.op === 'close',
);
