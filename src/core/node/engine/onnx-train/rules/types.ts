// What a layer's training rule is: its forward half (graph/layers/, what every graph emits
// from a plan) and its backward half here, with the weights' gradients it declares.
import type { ForwardContext, ForwardResult, LayerForward, WeightKind } from '../../../graph/layers/types.ts';
import type { PlanNode } from '../../../graph/plan.ts';

export type { ForwardResult, WeightKind } from '../../../graph/layers/types.ts';

export interface RuleContext extends ForwardContext {
  /** Declares the gradient of a weight (tfjs layout); ignored for non-trainable layers. */
  setGradient(kind: WeightKind, value: string): void;
  /** Bytes of dz one row of a by-images filter gradient streams (Conv2D.ts imagesChunkRows). */
  imagesFilterBytes: number;
}

export interface LayerRule extends LayerForward {
  /** Why this layer cannot be trained, or null when it can (checked before building). */
  refuse?(node: PlanNode): string | null;
  /**
   * Given the gradient of the loss with respect to the layer's output, declares its weight
   * gradients and returns the gradient for each input (null where `needInput[i]` is false).
   */
  backward(ctx: RuleContext, fwd: ForwardResult, dy: string, needInput: boolean[]): (string | null)[];
}
