// dW for the wasm backend (which has no Conv2DBackpropFilter), as XNNPACK
// matrix products that all share dy as the packed weight matrix:
//   dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, s*oh+kh-pad, s*ow+kw-pad, ci] * dy[n,oh,ow,co]
// x is rearranged once into per-stride-phase planes xs[phase][ci][n][i][j]
// (zero padded) and dy is zero padded to the same [n][i][j] grid, so for each
// filter tap the rows xs[phase][ci] read from a shifted start line up with dy:
// dW[kh,kw] = A_tap[ci, K] · dyPad[K, co]. Positions where the shift wraps into
// the next row or image meet dy's zero padding, so no im2col copy is needed.
// (Measured: ~2x faster than one dilated convolution with dy as the filter,
// whose per-call weight packing dominated.)
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  aliasF32,
  assertNHWC,
  assertNoDilation,
  disposeInfo,
  heapF32,
  makeF32,
  releaseAlias,
  runWasmKernel,
} from './wasm_util.ts';

function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs & { dilations?: number | [number, number] };
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  assertNoDilation(Conv2DBackpropFilter, attrs.dilations);
  const convInfo = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  assertNHWC(Conv2DBackpropFilter, convInfo.dataFormat);
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    outChannels: co,
  } = convInfo;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = convInfo;
  const top = convInfo.padInfo.top;
  const left = convInfo.padInfo.left;

  // Phase grid: padded row r = s*i + phase; tap kh reads phase kh % s at i = oh + floor(kh / s).
  const gh = oh + Math.floor((kh - 1) / sh);
  const gw = ow + Math.floor((kw - 1) / sw);
  const phasesH = Math.min(sh, kh);
  const phasesW = Math.min(sw, kw);
  const plane = n * gh * gw; // the shared (K) dimension of every product
  const slack = Math.floor((kh - 1) / sh) * gw + Math.floor((kw - 1) / sw);
  const phaseSize = ci * plane;

  const dyPad = makeF32(backend, [plane, co]);
  const xs = makeF32(backend, [phasesH * phasesW * phaseSize + slack]);
  const dw = makeF32(backend, [kh, kw, ci, co]);
  {
    const src = heapF32(backend, dy);
    const dst = heapF32(backend, dyPad);
    dst.fill(0);
    const rowLen = ow * co;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < oh; i++) {
        const s = (b * oh + i) * rowLen;
        dst.set(src.subarray(s, s + rowLen), (b * gh + i) * gw * co);
      }
    }
  }
  fillPhases(heapF32(backend, x), heapF32(backend, xs), {
    n,
    h,
    w,
    ci,
    gh,
    gw,
    sh,
    sw,
    top,
    left,
    phasesH,
    phasesW,
  });

  for (let th = 0; th < kh; th++) {
    for (let tw = 0; tw < kw; tw++) {
      const phase = (th % sh) * phasesW + (tw % sw);
      const start = phase * phaseSize + Math.floor(th / sh) * gw + Math.floor(tw / sw);
      const a = aliasF32(backend, xs, start, [1, ci, plane]);
      // dyPad stays the same weight tensor, so XNNPACK packs it once for all taps.
      const prod = runWasmKernel(
        'BatchMatMul',
        backend,
        { a, b: { ...dyPad, shape: [1, plane, co] } },
        {
          transposeA: false,
          transposeB: false,
        },
      );
      releaseAlias(backend, a);
      heapF32(backend, dw).set(heapF32(backend, prod), (th * kw + tw) * ci * co);
      disposeInfo(backend, prod);
    }
  }
  disposeInfo(backend, xs);
  // Disposing dyPad also frees the XNNPACK operator cached on it.
  disposeInfo(backend, dyPad);
  return dw;
}

interface PhaseGeometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  gh: number;
  gw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
  phasesH: number;
  phasesW: number;
}

function fillPhases(x: Float32Array, xs: Float32Array, g: PhaseGeometry): void {
  const { n, h, w, ci, gh, gw, sh, sw, top, left, phasesH, phasesW } = g;
  xs.fill(0);
  const plane = n * gh * gw;
  for (let ph = 0; ph < phasesH; ph++) {
    for (let pw = 0; pw < phasesW; pw++) {
      const phaseBase = (ph * phasesW + pw) * ci * plane;
      // Grid cell (i, j) holds x row sh*i + ph - top, col sw*j + pw - left.
      const j0 = Math.max(0, Math.ceil((left - pw) / sw));
      const j1 = Math.min(gw, Math.ceil((w + left - pw) / sw));
      if (j1 <= j0) continue;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < gh; i++) {
          const row = sh * i + ph - top;
          if (row < 0 || row >= h) continue;
          const dstRow = phaseBase + (b * gh + i) * gw;
          let src = ((b * h + row) * w + sw * j0 + pw - left) * ci;
          const srcStep = sw * ci;
          for (let j = j0; j < j1; j++, src += srcStep) {
            let d = dstRow + j;
            for (let c = 0; c < ci; c++, d += plane) xs[d] = x[src + c];
          }
        }
      }
    }
  }
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
