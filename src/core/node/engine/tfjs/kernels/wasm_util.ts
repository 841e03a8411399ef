// Helpers shared by our wasm training kernels: they call the backend's own
// kernels (XNNPACK-backed where it matters) on TensorInfos, so intermediates
// never become Tensors and never touch the engine's bookkeeping.
import { getKernel } from '@tensorflow/tfjs';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

export function runWasmKernel(
  name: string,
  backend: BackendWasm,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(name, 'wasm');
  if (kernel == null) throw new Error(`wasm backend has no '${name}' kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

export function disposeInfo(backend: BackendWasm, info: TensorInfo): void {
  backend.disposeData(info.dataId);
}

/** Stride-1 NHWC convolution through the stock XNNPACK kernel, explicit pads. */
export function xnnConv2d(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  pad: ExplicitPad,
  dilations: [number, number] = [1, 1],
): TensorInfo {
  return runWasmKernel('Conv2D', backend, { x, filter }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
}

/** A float32 tensor on the wasm heap; `fill` writes it through a fresh heap view. */
export function makeF32(
  backend: BackendWasm,
  shape: number[],
  fill?: (view: Float32Array) => void,
): TensorInfo {
  const info = backend.makeOutput(shape, 'float32');
  if (fill) fill(heapF32(backend, info));
  return info;
}

// Views must be taken after the last allocation: heap growth detaches them.
export function heapF32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function assertNoDilation(kernelName: string, dilations: unknown): void {
  if (dilations == null) return;
  const d = Array.isArray(dilations) ? dilations : [dilations, dilations];
  if (d.some((v) => v !== 1)) {
    throw new Error(
      `${kernelName} (wasm training kernel) supports dilations = 1 only, got ${JSON.stringify(dilations)}`,
    );
  }
}

export function assertNHWC(kernelName: string, dataFormat: string): void {
  if (dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} (wasm training kernel) supports dataFormat 'NHWC' only`);
  }
}

/**
 * A tensor aliasing `base`'s heap memory from element `offset` on. Lets one
 * buffer feed several XNNPACK calls at shifted starts without copies. Release
 * it with releaseAlias, never disposeInfo: that would free() memory it doesn't own.
 */
export function aliasF32(
  backend: BackendWasm,
  base: TensorInfo,
  offset: number,
  shape: number[],
): TensorInfo {
  const { memoryOffset } = backend.dataIdMap.get(base.dataId) as { memoryOffset: number };
  return backend.makeOutput(shape, 'float32', memoryOffset + 4 * offset);
}

export function releaseAlias(backend: BackendWasm, alias: TensorInfo): void {
  const { id } = backend.dataIdMap.get(alias.dataId) as { id: number };
  backend.dataIdMap.delete(alias.dataId);
  backend.wasm.tfjs.disposeData(id);
}
