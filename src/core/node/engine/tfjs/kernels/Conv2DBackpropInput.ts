// dx = transposed convolution of dy with the filter. The stock wasm kernel is a
// naive loop (~5x slower than forward Conv2D); here it becomes XNNPACK
// convolutions. For stride s the output is split into s*s phases (dx rows
// ≡ p mod s): each phase only meets every s-th filter tap, so it is a dense
// stride-1 convolution of dy with that flipped sub-filter. That does exactly
// the forward conv's multiply count, instead of 4x more with a zero-dilated dy.
import { backend_util, Conv2DBackpropInput } from '@tensorflow/tfjs';
import type { Conv2DBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  assertNHWC,
  assertNoDilation,
  disposeInfo,
  heapF32,
  makeF32,
  runWasmKernel,
  xnnConv2d,
} from './wasm_util.ts';

interface Phase {
  ph: number;
  pw: number;
  rows: number;
  cols: number;
  out: TensorInfo | null; // null: no filter tap reaches this phase, it is all zeros
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs & { dilations?: number | [number, number] };
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  assertNoDilation(Conv2DBackpropInput, attrs.dilations);
  const convInfo = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  assertNHWC(Conv2DBackpropInput, convInfo.dataFormat);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = convInfo;
  const { filterHeight, filterWidth, strideHeight: sh, strideWidth: sw } = convInfo;
  const padTop = convInfo.padInfo.top;
  const padLeft = convInfo.padInfo.left;

  const phases: Phase[] = [];
  for (let ph = 0; ph < sh; ph++) {
    for (let pw = 0; pw < sw; pw++) {
      const rows = Math.ceil((inHeight - ph) / sh);
      const cols = Math.ceil((inWidth - pw) / sw);
      if (rows <= 0 || cols <= 0) continue;
      const kh0 = mod(ph + padTop, sh);
      const kw0 = mod(pw + padLeft, sw);
      const taps = [Math.ceil((filterHeight - kh0) / sh), Math.ceil((filterWidth - kw0) / sw)];
      if (taps[0] <= 0 || taps[1] <= 0) {
        phases.push({ ph, pw, rows, cols, out: null });
        continue;
      }
      // dx row s*a+ph reads dy rows a + c - (J-1) + j' for j' in [0, J).
      const before = [taps[0] - 1 - (ph + padTop - kh0) / sh, taps[1] - 1 - (pw + padLeft - kw0) / sw];
      const after = [rows + taps[0] - 1 - outHeight - before[0], cols + taps[1] - 1 - outWidth - before[1]];
      const out = phaseConv(backend, dy, filter, [kh0, kw0], [sh, sw], taps, before, after, [
        outHeight,
        outWidth,
      ]);
      phases.push({ ph, pw, rows, cols, out });
    }
  }

  if (phases.length === 1 && phases[0].out != null && sh === 1 && sw === 1) return phases[0].out;

  const dx = makeF32(backend, [batchSize, inHeight, inWidth, inChannels]);
  const dxView = heapF32(backend, dx);
  for (const p of phases) {
    if (p.out == null) {
      zeroPhase(dxView, p, batchSize, inHeight, inWidth, inChannels, sh, sw);
    } else {
      scatterPhase(dxView, heapF32(backend, p.out), p, batchSize, inHeight, inWidth, inChannels, sh, sw);
      disposeInfo(backend, p.out);
    }
  }
  return dx;
}

function phaseConv(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  k0: number[],
  s: number[],
  taps: number[],
  before: number[],
  after: number[],
  dyHW: number[],
): TensorInfo {
  const [, kw, ci, co] = filter.shape;
  const [J, L] = taps;
  // Sub-filter, flipped 180° and with in/out channels swapped: [J, L, co, ci].
  const sub = makeF32(backend, [J, L, co, ci]);
  const src = heapF32(backend, filter);
  const dst = heapF32(backend, sub);
  for (let j = 0; j < J; j++) {
    const fh = k0[0] + s[0] * (J - 1 - j);
    for (let l = 0; l < L; l++) {
      const fw = k0[1] + s[1] * (L - 1 - l);
      const srcBase = (fh * kw + fw) * ci * co;
      const dstBase = (j * L + l) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[dstBase + o * ci + i] = src[srcBase + i * co + o];
      }
    }
  }
  // XNNPACK takes no negative padding: crop dy instead.
  let input = dy;
  const crop = [Math.max(0, -before[0]), Math.max(0, -before[1])];
  const cropEnd = [Math.max(0, -after[0]), Math.max(0, -after[1])];
  if (crop[0] + crop[1] + cropEnd[0] + cropEnd[1] > 0) {
    input = runWasmKernel(
      'Slice',
      backend,
      { x: dy },
      {
        begin: [0, crop[0], crop[1], 0],
        size: [dy.shape[0], dyHW[0] - crop[0] - cropEnd[0], dyHW[1] - crop[1] - cropEnd[1], dy.shape[3]],
      },
    );
  }
  const out = xnnConv2d(backend, input, sub, [
    [0, 0],
    [Math.max(0, before[0]), Math.max(0, after[0])],
    [Math.max(0, before[1]), Math.max(0, after[1])],
    [0, 0],
  ]);
  if (input !== dy) disposeInfo(backend, input);
  // Disposing the sub-filter also frees the XNNPACK operator cached for it.
  disposeInfo(backend, sub);
  return out;
}

function scatterPhase(
  dx: Float32Array,
  src: Float32Array,
  p: Phase,
  n: number,
  h: number,
  w: number,
  c: number,
  sh: number,
  sw: number,
): void {
  let s = 0;
  const pixStep = sw * c;
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < p.rows; a++) {
      let d = ((b * h + sh * a + p.ph) * w + p.pw) * c;
      for (let x = 0; x < p.cols; x++, d += pixStep) {
        for (let k = 0; k < c; k++) dx[d + k] = src[s++];
      }
    }
  }
}

function zeroPhase(
  dx: Float32Array,
  p: Phase,
  n: number,
  h: number,
  w: number,
  c: number,
  sh: number,
  sw: number,
): void {
  const pixStep = sw * c;
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < p.rows; a++) {
      let d = ((b * h + sh * a + p.ph) * w + p.pw) * c;
      for (let x = 0; x < p.cols; x++, d += pixStep) dx.fill(0, d, d + c);
    }
  }
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
