// The forward rules, found by the plan's layer class (one file per layer type): what every graph
// emitted from a plan computes for a layer, the inference graphs and the training step alike.
import { activationForward } from './activation.ts';
import { addForward } from './Add.ts';
import { batchNormForward } from './BatchNormalization.ts';
import { conv2dForward } from './Conv2D.ts';
import { denseForward } from './Dense.ts';
import { flattenForward } from './Flatten.ts';
import { globalPoolingForward } from './GlobalPooling2D.ts';
import { identityForward } from './Identity.ts';
import { pooling2dForward } from './Pooling2D.ts';
import type { LayerForward } from './types.ts';
import { zeroPaddingForward } from './ZeroPadding2D.ts';

export type { ForwardContext, ForwardResult, LayerForward, WeightKind } from './types.ts';
export { activate } from './activation.ts';

const FORWARDS: readonly LayerForward[] = [
  conv2dForward,
  denseForward,
  activationForward,
  addForward,
  batchNormForward,
  globalPoolingForward,
  pooling2dForward,
  flattenForward,
  identityForward,
  zeroPaddingForward,
];

const byClass = new Map<string, LayerForward>();
for (const r of FORWARDS) for (const c of r.classNames) byClass.set(c, r);

/** The forward rule of a plan layer's class (every class the plan readers make has one). */
export function forwardFor(className: string): LayerForward {
  const r = byClass.get(className);
  if (!r) throw new Error(`no forward rule for the layer class ${className}`);
  return r;
}
