// The operator rules, found by ONNX operator type (and the opset where a rule covers only
// some versions), one file per kind of layer under ops/, like onnx2torch's converters. An
// operator without a rule is refused by name; constant-only nodes fold (constants.ts).
import type { OpRule } from './context.ts';
import { clipAttributesRule, clipInputsRule, reluRule } from './ops/activation.ts';
import { addRule } from './ops/add.ts';
import { batchNormRule } from './ops/batchnorm.ts';
import { convRule } from './ops/conv.ts';
import { gemmRule, matMulRule } from './ops/dense.ts';
import { passThroughRule, softmaxRule } from './ops/output.ts';
import { padAttributesRule, padInputsRule } from './ops/pad.ts';
import { averagePoolRule, globalPoolRule, maxPoolRule } from './ops/pool.ts';
import { flattenRule, reshapeRule, shapeRule, squeezeRule, transposeRule } from './ops/reshape.ts';

const RULES: readonly OpRule[] = [
  convRule,
  batchNormRule,
  reluRule,
  clipAttributesRule,
  clipInputsRule,
  addRule,
  maxPoolRule,
  averagePoolRule,
  globalPoolRule,
  flattenRule,
  reshapeRule,
  squeezeRule,
  transposeRule,
  shapeRule,
  gemmRule,
  matMulRule,
  softmaxRule,
  passThroughRule,
  padAttributesRule,
  padInputsRule,
];

/** The rule for an operator of the default domain at `opset`, or null. */
export function ruleFor(op: string, domain: string, opset: number): OpRule | null {
  if (domain !== '') return null;
  return (
    RULES.find((r) => r.ops.includes(op) && (r.since ?? 0) <= opset && opset <= (r.until ?? Infinity)) ?? null
  );
}

/** The operators a file may hold, for the refusal's hint. */
export const SUPPORTED_OPERATORS =
  'Conv (group 1, no dilation), BatchNormalization (inference), Relu, Clip (ReLU6), Add, MaxPool, AveragePool, GlobalAveragePool, Flatten and Reshape/Squeeze to [N, features], Gemm, MatMul + Add, Softmax or LogSoftmax at the end, Dropout, Identity, Pad (zeros), a Transpose between NHWC and NCHW, and constants';
