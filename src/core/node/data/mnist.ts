// The MNIST family (MNIST, Fashion-MNIST, Kuzushiji-MNIST, EMNIST): loading a release's IDX
// files (idx.ts), found on disk by mnist-files.ts, into the dataset every model takes. Images
// are [count, 28, 28], labels [count]. EMNIST stores each image transposed (column-major), so
// it is transposed back here; grey.ts turns each into RGB.

import type { DatasetInfo, GreyFit, ImageSet, LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { checkGreyFit, greyInto } from './grey.ts';
import { readIdx } from './idx.ts';
import { checkImageSet, imageSetBuffer } from './image-set.ts';
import { labelOffset, MNIST_DEFAULTS, mnistClassNames, mnistTitle, type MnistSpec } from './mnist-family.ts';
import { resolveMnistFiles } from './mnist-files.ts';

// The family's public face: what the catalogue, the loader and the commands use of it.
export {
  EMNIST_SPLITS,
  MNIST_DEFAULTS,
  MNIST_FAMILIES,
  mnistClassNames,
  mnistTitle,
  type MnistSpec,
} from './mnist-family.ts';
export { findMnist, mnistNotFound } from './mnist-files.ts';

async function readSplit(
  imagesFile: string,
  labelsFile: string,
  spec: MnistSpec,
  classes: number,
  size: number,
  fit: GreyFit,
  signal?: AbortSignal,
): Promise<{ set: ImageSet; srcSize: number }> {
  // The images' header is checked (shape, input size, memory) before any pixel is read, and
  // the labels' count against it before any label is.
  const img = await readIdx(
    imagesFile,
    3,
    ([count, rows, cols]) => {
      if (rows !== cols || rows === 0)
        throw new UserError(
          `${imagesFile} holds ${rows}x${cols} images; the MNIST family's are square (28x28).`,
          'Choose the original image files.',
          'bad-format',
        );
      if (count === 0)
        throw new UserError(
          `${imagesFile} holds no images.`,
          'Choose the files of a release: a split without images can be neither trained on nor tested with.',
          'no-images',
        );
      checkGreyFit(fit, rows!, size, mnistTitle(spec));
      checkImageSet(count!, size, imagesFile);
      checkImageSet(count!, rows!, imagesFile, 1);
    },
    signal,
  );
  const [count, rows, cols] = img.dims as [number, number, number];
  const lab = await readIdx(
    labelsFile,
    1,
    ([labels]) => {
      if (labels !== count)
        throw new UserError(
          `${imagesFile} holds ${count} images but ${labelsFile} holds ${labels} labels.`,
          'The two files come from different releases or one is damaged: download the dataset again.',
          'count-mismatch',
        );
    },
    signal,
  );
  const off = labelOffset(spec);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = lab.data[i]! - off;
    if (l < 0 || l >= classes)
      throw new UserError(
        `${labelsFile} has label ${lab.data[i]} at position ${i}, but ${mnistTitle(spec)} has ${classes} classes${off ? ` numbered from ${off}` : ''}.`,
        spec.family === 'emnist'
          ? 'Check that the split named matches the files (e.g. emnist-letters:PATH for the letters files).'
          : 'Check that the folder holds the files of this dataset, or download it again.',
        'corrupt-data',
      );
    labels[i] = l;
  }
  const px = rows * cols;
  const per = size * size * 3;
  const images = imageSetBuffer(count, size, imagesFile);
  const transposed = spec.family === 'emnist';
  for (let i = 0; i < count; i++)
    greyInto(img.data.subarray(i * px, (i + 1) * px), rows, transposed, fit, size, images, i * per);
  return { set: { images, labels, count, size }, srcSize: rows };
}

export async function loadMnist(
  spec: MnistSpec,
  id: string,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<LoadedDataset> {
  const files = resolveMnistFiles(spec);
  const size = spec.size ?? MNIST_DEFAULTS.size;
  const fit = spec.fit ?? MNIST_DEFAULTS.fit;
  const classNames = mnistClassNames(spec.family, spec.split);
  const title = mnistTitle(spec);
  opts.onProgress?.({ stage: `Reading ${title} training files`, fraction: 0, detail: files.dir });
  const train = await readSplit(
    files.trainImages,
    files.trainLabels,
    spec,
    classNames.length,
    size,
    fit,
    opts.signal,
  );
  opts.signal?.throwIfAborted();
  opts.onProgress?.({ stage: `Reading ${title} test files`, fraction: 0.85, detail: files.dir });
  const test = await readSplit(
    files.testImages,
    files.testLabels,
    spec,
    classNames.length,
    size,
    fit,
    opts.signal,
  );
  if (test.srcSize !== train.srcSize)
    throw new UserError(
      `${files.trainImages} holds ${train.srcSize}x${train.srcSize} images but ${files.testImages} ${test.srcSize}x${test.srcSize}.`,
      'The files come from different datasets: choose the four files of one release.',
      'bad-format',
    );
  opts.onProgress?.({ stage: `Read ${title}`, fraction: 1 });
  const info: DatasetInfo = {
    id,
    kind: 'mnist',
    name: `${title}${fit === 'pad' ? '' : ` (resized to ${size}x${size})`}`,
    imageSize: size,
    classNames,
    trainCount: train.set.count,
    testCount: test.set.count,
    source: files.dir,
    grey: { sourceSize: train.srcSize, fit },
    // Mirrored, a digit, a letter or a kana is another sign (or none); clothing stays clothing.
    ...(spec.family !== 'fashion-mnist' ? { noMirror: true } : {}),
  };
  return { info, train: train.set, test: test.set };
}
