// ResNet v1 for CIFAR (He et al. 2016, section 4.2), as the decomposition paper uses it:
// depth 6n+2, 3x3 convolutions with 16/32/64 filters, 1x1 projection shortcuts where the
// shape changes, global average pooling, one softmax dense layer. Batch normalisation is
// off by default (the paper trains without it) and optional.
//
// Layer names are deterministic so weights line up across processes and with the paper's
// counting (ResNet-20/32/56 have 21/33/57 convolution layers).
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../common/errors.ts';
import { isResNetDepth } from '../../common/rules.ts';

export interface ResNetConfig {
  depth: number;
  inputSize: number;
  classes: number;
  batchNorm?: boolean;
  seed?: number;
}

export function validateResNetConfig(c: ResNetConfig): void {
  if (!isResNetDepth(c.depth)) {
    throw new UserError(
      `ResNet depth ${c.depth} is not of the form 6n+2 (from 8 to 200).`,
      'Use 20, 32, 44, 56 or 110.',
      'bad-depth',
    );
  }
  if (!Number.isInteger(c.inputSize) || c.inputSize < 8) {
    throw new UserError(
      `Input size ${c.inputSize} is too small.`,
      'Use 32 (CIFAR) or 64 (Tiny ImageNet).',
      'bad-size',
    );
  }
  if (!Number.isInteger(c.classes) || c.classes < 2) {
    throw new UserError(
      `A classifier needs at least 2 classes, not ${c.classes}.`,
      'Pick a dataset with 2 or more classes.',
      'bad-classes',
    );
  }
}

export function buildResNet(c: ResNetConfig): tf.LayersModel {
  validateResNetConfig(c);
  const n = (c.depth - 2) / 6;
  const bn = c.batchNorm ?? false;
  let seed = c.seed ?? 1;
  const init = () => tf.initializers.heNormal({ seed: seed++ });

  // Without batch normalisation, He-initialised residual branches add up variance block after
  // block and the net collapses to a constant prediction early in training. Starting each
  // branch's last convolution at zero (Fixup, Zhang et al. 2019; SkipInit) makes every block
  // the identity at first and lets the paper's BN-free ResNets train.
  const conv = (
    x: tf.SymbolicTensor,
    filters: number,
    kernel: number,
    stride: number,
    name: string,
    zero = false,
  ) =>
    tf.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        kernelInitializer: zero ? 'zeros' : init(),
        biasInitializer: 'zeros',
        useBias: true,
        name,
      })
      .apply(x) as tf.SymbolicTensor;
  const norm = (x: tf.SymbolicTensor, name: string) =>
    // Momentum 0.9 rather than Keras' 0.99: the moving statistics must settle within the
    // few epochs a reuse baseline trains for.
    bn ? (tf.layers.batchNormalization({ axis: -1, momentum: 0.9, name }).apply(x) as tf.SymbolicTensor) : x;
  const relu = (x: tf.SymbolicTensor, name: string) =>
    tf.layers.activation({ activation: 'relu', name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [c.inputSize, c.inputSize, 3], name: 'input' });
  let x = relu(norm(conv(input, 16, 3, 1, 'conv1'), 'bn1'), 'relu1');
  let channels = 16;
  [16, 32, 64].forEach((filters, s) => {
    for (let b = 0; b < n; b++) {
      const p = `stage${s + 1}_block${b + 1}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = relu(norm(conv(x, filters, 3, stride, `${p}_conv1`), `${p}_bn1`), `${p}_relu1`);
      y = norm(conv(y, filters, 3, 1, `${p}_conv2`, !bn), `${p}_bn2`);
      const shortcut =
        stride !== 1 || channels !== filters ? conv(x, filters, 1, stride, `${p}_shortcut`) : x;
      x = relu(tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as tf.SymbolicTensor, `${p}_relu2`);
      channels = filters;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: c.classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
      name: 'dense',
    })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: `resnet${c.depth}` });
}

export function countConvLayers(model: tf.LayersModel): number {
  return model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
}
