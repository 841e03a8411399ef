// The training rules, found by layer class name (one file per layer type, like the wasm
// kernels): each a forward rule (graph/layers/, what every graph emits) and its backward
// half. A layer without a rule is refused by name.
import { activationRule } from './activation.ts';
import { addRule } from './Add.ts';
import { batchNormRule } from './BatchNormalization.ts';
import { conv2dRule } from './Conv2D.ts';
import { denseRule } from './Dense.ts';
import { flattenRule } from './Flatten.ts';
import { globalPoolingRule } from './GlobalPooling2D.ts';
import { identityRule } from './Identity.ts';
import { pooling2dRule } from './Pooling2D.ts';
import { zeroPaddingRule } from './ZeroPadding2D.ts';
import type { LayerRule } from './types.ts';

export type { LayerRule, RuleContext, ForwardResult, WeightKind } from './types.ts';

const RULES: readonly LayerRule[] = [
  conv2dRule,
  denseRule,
  activationRule,
  addRule,
  batchNormRule,
  globalPoolingRule,
  pooling2dRule,
  flattenRule,
  identityRule,
  zeroPaddingRule,
];

const byClass = new Map<string, LayerRule>();
for (const r of RULES) for (const c of r.classNames) byClass.set(c, r);

export function ruleFor(className: string): LayerRule | null {
  return byClass.get(className) ?? null;
}

export function trainableLayerClasses(): string[] {
  return [...byClass.keys()].sort();
}
