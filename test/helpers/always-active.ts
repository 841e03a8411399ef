// A hand-built model with known logits: input [4, 4, 3] -> conv 1x1 (diagonal kernel `scale`,
// bias +5, so every position is always active and modules keep every node) -> relu -> global
// pool -> dense over 4 classes (kernel `head` [3, 4] row-major, bias `bias`) -> softmax.
import * as tf from '@tensorflow/tfjs';
import { modelToArtifacts, type ModelArtifacts } from '../../src/core/node/models/io.ts';

export async function alwaysActiveModel(
  o: { scale?: number; head?: number[]; bias?: number[] } = {},
): Promise<ModelArtifacts> {
  const input = tf.input({ shape: [4, 4, 3], name: 'input' });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu', name: 'conv' });
  const pool = tf.layers.globalAveragePooling2d({ name: 'pool' });
  const head = tf.layers.dense({ units: 4, activation: 'softmax', name: 'head' });
  const model = tf.model({
    inputs: input,
    outputs: head.apply(pool.apply(conv.apply(input))) as tf.SymbolicTensor,
  });
  const s = o.scale ?? 0.1;
  conv.setWeights([tf.tensor4d([s, 0, 0, 0, s, 0, 0, 0, s], [1, 1, 3, 3]), tf.tensor1d([5, 5, 5])]);
  head.setWeights([
    tf.tensor2d(o.head ?? [0.3, -0.2, 0.1, 0, -0.1, 0.4, 0, 0.2, 0, 0, -0.3, 0.5], [3, 4]),
    tf.tensor1d(o.bias ?? [0, 0.1, -0.1, 0.05]),
  ]);
  const art = await modelToArtifacts(model);
  model.dispose();
  return art;
}
