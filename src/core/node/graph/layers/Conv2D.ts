// Conv2D (any kernel and stride, explicit pads, with or without bias, fused activation). The
// kernel arrives in the plan's layout [kh, kw, in, out]; activations are NHWC. On onnxruntime's
// blocked kernels where the channels allow and the builder has a block size (training on the
// CPU), else a plain ONNX Conv between two transposes (what any ONNX runtime runs).
import type { GraphBuilder } from '../builder.ts';
import { blockable, blockedConv, blockedFilter } from '../nchwc.ts';
import { int, ints } from '../onnx-proto.ts';
import type { PlanNode } from '../plan.ts';
import { activate } from './activation.ts';
import type { ForwardResult, LayerForward } from './types.ts';

/** A plain (NCHW-only) ONNX Conv on NHWC values, transposed in and out: where the blocked kernels do not apply. */
export function nchwConv(
  g: GraphBuilder,
  x: string,
  [h, w, c]: number[],
  rest: string[],
  attrs: ReturnType<typeof ints>[],
  outChannels: number,
  [oh, ow]: number[],
): string {
  const y = g.op('Conv', [g.transpose(x, [null, h!, w!, c!], [0, 3, 1, 2]), ...rest], attrs);
  return g.transpose(y, [null, outChannels, oh!, ow!], [0, 2, 3, 1]);
}

/** A convolution's sizes: kernel, channels, input and output maps, strides, leading pads. */
export function convDims(node: PlanNode) {
  const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
  const [h, w] = node.inShape as [number, number, number];
  const [oh, ow] = node.shape as [number, number, number];
  const [sh, sw] = node.strides!;
  const [pt, pl] = node.pads!;
  return { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl };
}

export function convAttrs(k: [number, number], strides: [number, number], pads: number[]) {
  return [
    ints('kernel_shape', k),
    ints('strides', strides),
    ints('pads', pads),
    ints('dilations', [1, 1]),
    int('group', 1),
  ];
}

export const conv2dForward: LayerForward = {
  classNames: ['Conv2D'],
  forward({ g, node, inputs, weight }): ForwardResult {
    const { kh, kw, ci, co, h, w } = convDims(node);
    const hwio = weight('kernel')!;
    const bias = weight('bias');
    if (blockable(ci, co, g.nchwcBlock)) {
      const k: [number, number] = [kh, kw];
      const dims = { ci, co, inHW: [h, w] as [number, number], k, strides: node.strides!, pads: node.pads! };
      const relu = node.act === 'relu';
      // The blocked filter is kept for the input gradient's (rules/Conv2D.ts).
      const blocked = blockedFilter(g, hwio, 'hwio', [co, ci, kh, kw], g.nchwcBlock);
      const y = blockedConv(g, inputs[0]!, blocked, 'blocked', bias, dims, g.nchwcBlock, relu);
      return { output: relu ? y : activate(g, y, node.act), saved: { hwio, blocked } };
    }
    const oihw = g.transpose(hwio, [kh, kw, ci, co], [3, 2, 0, 1]);
    const z = nchwConv(
      g,
      inputs[0]!,
      node.inShape,
      bias ? [oihw, bias] : [oihw],
      convAttrs([kh, kw], node.strides!, node.pads!),
      co,
      node.shape,
    );
    return { output: activate(g, z, node.act), saved: { hwio } };
  },
};
