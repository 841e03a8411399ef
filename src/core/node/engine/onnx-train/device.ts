// Where the onnxruntime training graphs run: the CPU, or a GPU through onnxruntime-node's
// execution provider for this platform (CUDA on Linux, DirectML on Windows, CoreML on
// macOS). `auto` and `gpu` try the GPU provider once per process on a small graph and fall
// back to the CPU with the reason; onnxruntime itself runs any op the provider lacks on the
// CPU.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { firstLine, UserError } from '../../../common/errors.ts';
import type { DeviceChoice } from '../training-engine.ts';
import { GraphBuilder } from '../../graph/builder.ts';

export type TrainingDevice = 'auto' | 'cpu' | 'gpu';
export const TRAINING_DEVICES: readonly TrainingDevice[] = ['auto', 'cpu', 'gpu'];

// The CPU unless asked: the GPU path is not exercised by the tests (no GPU here).
let defaultDevice: TrainingDevice = 'cpu';

/** The device training uses in this process unless told (the shell's --device / DECOMPOSER_DEVICE). */
export function setDefaultTrainingDevice(d: TrainingDevice | null): void {
  defaultDevice = d ?? 'cpu';
}

export function defaultTrainingDevice(): TrainingDevice {
  return defaultDevice;
}

export function parseTrainingDevice(value: string | undefined | null): TrainingDevice | null {
  if (value === undefined || value === null || value === '') return null;
  if ((TRAINING_DEVICES as readonly string[]).includes(value)) return value as TrainingDevice;
  throw new UserError(
    `Unknown device "${value}".`,
    `Use one of: ${TRAINING_DEVICES.join(', ')}.`,
    'bad-device',
  );
}

/** The GPU execution provider onnxruntime-node offers on this platform. */
export function gpuProviderName(platform = os.platform()): string {
  return platform === 'win32' ? 'dml' : platform === 'darwin' ? 'coreml' : 'cuda';
}

let probed: Promise<{ ok: boolean; reason?: string }> | null = null;

/**
 * On Linux the CUDA provider is a library installed beside onnxruntime-node's binding only
 * when asked for; without it, trying the provider only prints onnxruntime's load error.
 */
function cudaLibraryMissing(): string | null {
  if (os.platform() !== 'linux') return null;
  try {
    const bin = path.join(
      path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
      '..',
      'bin',
    );
    for (const napi of readdirSync(bin)) {
      if (existsSync(path.join(bin, napi, 'linux', os.arch(), 'libonnxruntime_providers_cuda.so')))
        return null;
    }
  } catch {
    return null; // Unknown layout: let the provider say it.
  }
  return 'the CUDA provider of onnxruntime-node is not installed (npm install onnxruntime-node --onnxruntime-node-install=cuda12)';
}

/** Whether the GPU provider creates and runs a session here (once per process). */
function probeGpu(ort: typeof Ort, provider: string): Promise<{ ok: boolean; reason?: string }> {
  probed ??= (async () => {
    const listed = ort.listSupportedBackends().find((b) => b.name === provider);
    if (!listed)
      return { ok: false, reason: `onnxruntime-node has no ${provider} provider on this platform` };
    const missing = provider === 'cuda' ? cudaLibraryMissing() : null;
    if (missing) return { ok: false, reason: missing };
    const g = new GraphBuilder();
    g.input('x', [1, 4]);
    g.output('y', g.op('Relu', ['x']), [1, 4]);
    try {
      const s = await ort.InferenceSession.create(g.encode(), {
        executionProviders: [provider],
        logSeverityLevel: 4,
      });
      await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4]) });
      await s.release();
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `the ${provider} provider did not start: ${firstLine(e, 200)}` };
    }
  })();
  return probed;
}

/** Chooses the device for `asked` (null: the process default). */
export async function chooseDevice(ort: typeof Ort, asked: TrainingDevice | null): Promise<DeviceChoice> {
  const device = asked ?? defaultDevice;
  const provider = gpuProviderName();
  if (device === 'cpu') return { active: 'cpu', providers: ['cpu'], provider: 'cpu' };
  const gpu = await probeGpu(ort, provider);
  if (gpu.ok) return { active: 'gpu', providers: [provider, 'cpu'], provider };
  return {
    active: 'cpu',
    providers: ['cpu'],
    provider: 'cpu',
    reason: device === 'gpu' ? `GPU asked, trained on CPU: ${gpu.reason}` : `no GPU: ${gpu.reason}`,
  };
}
