// What a layer's forward rule sees, in every graph emitted from a plan (the inference graphs
// of inference/convert.ts, the training step of engine/onnx-train/build.ts): the graph, its
// plan node, its input values and its weights. Values are NHWC for images (tfjs's layout, the
// plan's: masks and observed activity are laid out alike) and [N, units] for flat tensors;
// weights are in the plan's layout (kernels [kh, kw, in, out] and [in, out]), as graph inputs
// (training) or constants (inference).
import type { GraphBuilder } from '../builder.ts';
import type { PlanNode } from '../plan.ts';

/** A weight of a layer, by its tfjs name suffix. */
export type WeightKind = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

export interface ForwardContext {
  g: GraphBuilder;
  node: PlanNode;
  /** The layer's input values, in the order of node.inputs. */
  inputs: string[];
  /** 'train': batch statistics (the backward pass follows); 'eval': inference. */
  mode: 'train' | 'eval';
  /** The weight's value (the plan's layout), or null when the layer has no such weight. */
  weight(kind: WeightKind): string | null;
  /** Declares the new value of a non-trainable weight (batch norm's moving statistics). */
  setUpdate(kind: WeightKind, value: string): void;
}

export interface ForwardResult {
  /** The layer's output value. */
  output: string;
  /** Whatever the backward pass needs (values of the forward graph). */
  saved?: Record<string, string>;
}

/** One layer type's forward computation, the one every graph emits. */
export interface LayerForward {
  /** Layer class names this rule handles. */
  classNames: readonly string[];
  forward(ctx: ForwardContext): ForwardResult;
}
