// Tile for the wasm backend. The stock kernel computes a source index per
// output element (~30 ms for a 64x32x32x16 output); batch-norm's gradient
// tiles [1,1,1,C] up to the activation shape for every BN layer, which made
// Tile the single most expensive kernel of a ResNet training step. Here each
// axis is replicated with block copies, doubling the copied span each time.
import { Tile, util } from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo, TileAttrs } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Numeric = Float32Array | Int32Array | Uint8Array;

let stockTile: KernelFunc | null = null;

/** The stock kernel, kept for string tensors (not on the wasm heap). */
export function setStockTile(kernelFunc: KernelFunc | null): void {
  stockTile = kernelFunc;
}

function tile(args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: TileAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const reps = attrs.reps;
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (stockTile == null) throw new Error(`Tile (wasm training kernel) does not support dtype ${x.dtype}`);
    return stockTile(args as never) as TensorInfo;
  }
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const src = backend.typedArrayFromHeap(x) as Numeric;
  const dst = backend.typedArrayFromHeap(out) as Numeric;
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const srcStrides = util.computeStrides(x.shape).concat(1);
  const dstStrides = util.computeStrides(outShape).concat(1);
  fill(0, 0, 0);
  return out;

  function fill(axis: number, srcOff: number, dstOff: number): void {
    // Lay out the input along this axis once, then replicate that block.
    const size = x.shape[axis];
    const block = size * dstStrides[axis];
    if (axis === rank - 1) {
      if (size === 1) dst[dstOff] = src[srcOff];
      else dst.set(src.subarray(srcOff, srcOff + size), dstOff);
    } else {
      for (let i = 0; i < size; i++)
        fill(axis + 1, srcOff + i * srcStrides[axis], dstOff + i * dstStrides[axis]);
    }
    replicate(dstOff, block, reps[axis]);
  }

  function replicate(start: number, block: number, times: number): void {
    const total = block * times;
    if (total <= 64) {
      for (let i = block; i < total; i++) dst[start + i] = dst[start + i - block];
      return;
    }
    for (let done = block; done < total; done *= 2) {
      dst.copyWithin(start + done, start, start + Math.min(done, total - done));
    }
  }
}

export const tileConfig: KernelConfig = {
  kernelName: Tile,
  backendName: 'wasm',
  kernelFunc: tile as unknown as KernelFunc,
};
