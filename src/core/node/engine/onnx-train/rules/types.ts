// What a layer's training rule sees: the graph, its plan node, its input values and its
// weights (graph inputs in tfjs layout). Values inside the graph are NHWC for images (as in
// tfjs: the filter gradients' GEMMs read them without transposes) and [N, units] for flat
// tensors.
import type { PlanNode } from '../../../graph/plan.ts';
import type { GraphBuilder } from '../graph.ts';

/** A weight of a layer, by its tfjs name suffix. */
export type WeightKind = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

export interface RuleContext {
  g: GraphBuilder;
  node: PlanNode;
  /** The layer's input values, in the order of node.inputs. */
  inputs: string[];
  /** 'train': batch statistics, and the backward pass follows; 'eval': inference mode. */
  mode: 'train' | 'eval';
  /** The weight's graph input (tfjs layout), or null when the layer has no such weight. */
  weight(kind: WeightKind): string | null;
  /** Declares the gradient of a weight (tfjs layout); ignored for non-trainable layers. */
  setGradient(kind: WeightKind, value: string): void;
  /** Declares the new value of a non-trainable weight (batch norm's moving statistics). */
  setUpdate(kind: WeightKind, value: string): void;
}

export interface ForwardResult {
  /** The layer's output value. */
  output: string;
  /** Whatever the backward pass needs (values of the forward graph). */
  saved?: Record<string, string>;
}

export interface LayerRule {
  /** Layer class names this rule handles. */
  classNames: readonly string[];
  /** Why this layer cannot be trained, or null when it can (checked before building). */
  refuse?(node: PlanNode): string | null;
  forward(ctx: RuleContext): ForwardResult;
  /**
   * Given the gradient of the loss with respect to the layer's output, declares its weight
   * gradients and returns the gradient for each input (null where `needInput[i]` is false).
   */
  backward(ctx: RuleContext, fwd: ForwardResult, dy: string, needInput: boolean[]): (string | null)[];
}
