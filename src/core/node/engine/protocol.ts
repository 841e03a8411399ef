// Messages between the engine pool and its engines. The same handler serves a worker
// thread and the in-thread engine, so "with the pool" and "without" run identical code.
import type { BackendName, BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import type { Augment } from './preprocess.ts';
import { EngineCore, type StepResult, type WeightLayout } from './engine-core.ts';

export type Request =
  | { op: 'init'; backend: BackendName | null }
  | {
      op: 'load';
      artifacts: ModelArtifacts;
      pre: Preprocess;
      weights: SharedArrayBuffer;
      grads: SharedArrayBuffer;
    }
  | {
      op: 'grad';
      version: number;
      images: Uint8Array;
      labels: Int32Array;
      count: number;
      aug: Augment | null;
    }
  | { op: 'predict'; version: number; images: Uint8Array; count: number }
  | { op: 'close' };

export type Reply =
  | { op: 'init'; report: BackendReport }
  | { op: 'load'; layout: WeightLayout }
  | { op: 'grad'; step: StepResult }
  | { op: 'predict'; probs: Float32Array }
  | { op: 'close' };

/** Per-engine state around an EngineCore: the shared weights and its gradient buffer. */
export class EngineHost {
  readonly core = new EngineCore();
  private weights: Float32Array | null = null;
  private grads: Float32Array | null = null;
  private version = -1;

  private sync(version: number): void {
    if (version !== this.version) {
      this.core.setWeights(this.weights!);
      this.version = version;
    }
  }

  async handle(req: Request): Promise<Reply> {
    switch (req.op) {
      case 'init':
        return { op: 'init', report: await this.core.init(req.backend) };
      case 'load': {
        const layout = await this.core.load(req.artifacts, req.pre);
        this.weights = new Float32Array(req.weights);
        this.grads = new Float32Array(req.grads);
        this.version = -1;
        return { op: 'load', layout };
      }
      case 'grad':
        this.sync(req.version);
        return {
          op: 'grad',
          step: this.core.gradients(req.images, req.labels, req.count, req.aug, this.grads!),
        };
      case 'predict':
        this.sync(req.version);
        return { op: 'predict', probs: this.core.predict(req.images, req.count) };
      case 'close':
        this.core.dispose();
        return { op: 'close' };
    }
  }
}
