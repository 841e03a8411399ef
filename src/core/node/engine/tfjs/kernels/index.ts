// Training kernels for the tfjs wasm backend, built on its own XNNPACK ops.
// Call after importing '@tensorflow/tfjs-backend-wasm' (which registers the
// stock kernels); ours replace the stock ones of the same name.
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.ts';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.ts';
import { setStockTile, tileConfig } from './Tile.ts';

export const wasmTrainingKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  tileConfig,
];

export function registerWasmTrainingKernels(): string[] {
  for (const config of wasmTrainingKernels) {
    const existing = getKernel(config.kernelName, config.backendName);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing != null) {
      if (config === tileConfig) setStockTile(existing.kernelFunc);
      unregisterKernel(config.kernelName, config.backendName);
    }
    registerKernel(config);
  }
  return wasmTrainingKernels.map((c) => c.kernelName);
}
