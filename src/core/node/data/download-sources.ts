// The public datasets a user can ask to download: each source's address, published
// checksums, mirrors and the folder it goes in (`--dataset NAME` looks there).

export type DownloadName =
  'cifar10' | 'cifar100' | 'tinyimagenet' | 'mnist' | 'fashion-mnist' | 'kmnist' | 'emnist';

type Checksum = { algorithm: 'md5' | 'sha256'; hex: string };

export interface KnownDownload {
  url: string;
  fileName: string;
  /** The published checksum (md5 is what the authors publish for CIFAR and the MNIST family). */
  checksum: Checksum;
  /** What the job and the app call it. */
  title: string;
  approxBytes?: number;
  note?: string;
  /**
   * A release of several files (the MNIST family's four IDX files): each is fetched from
   * `url` + its name (then from each mirror in turn where that fails) into a folder named
   * after the dataset, and checked against its own checksum. `url`, `fileName` and
   * `checksum` above then describe the first file.
   */
  files?: { fileName: string; md5: string }[];
  mirrors?: string[];
  /** The folder under the download folder it goes in (where `--dataset NAME` looks for it). */
  folder?: string;
}

/** The four IDX files of an MNIST-style release with their published md5s, in the same order. */
function idxRelease(
  folder: DownloadName,
  title: string,
  base: string,
  md5s: [string, string, string, string],
  mirrors: string[] = [],
): KnownDownload {
  const names = [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ];
  return {
    title,
    url: base,
    fileName: names[0]!,
    checksum: { algorithm: 'md5', hex: md5s[0] },
    files: names.map((fileName, i) => ({ fileName, md5: md5s[i]! })),
    mirrors,
    folder,
  };
}

export const KNOWN_DOWNLOADS: Record<DownloadName, KnownDownload> = {
  cifar10: {
    title: 'CIFAR-10',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    fileName: 'cifar-10-binary.tar.gz',
    checksum: { algorithm: 'md5', hex: 'c32a1d4ab5d03f1284b67883e8d87530' },
    approxBytes: 170052171,
  },
  cifar100: {
    title: 'CIFAR-100',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    fileName: 'cifar-100-binary.tar.gz',
    checksum: { algorithm: 'md5', hex: '03b5dce01913d631647c71ecec9e9cb8' },
    approxBytes: 168513733,
  },
  tinyimagenet: {
    title: 'Tiny ImageNet',
    url: 'http://cs231n.stanford.edu/tiny-imagenet-200.zip',
    fileName: 'tiny-imagenet-200.zip',
    // Not published by Stanford; the md5 every common loader (e.g. torchvision-style
    // TinyImageNet classes) checks against.
    checksum: { algorithm: 'md5', hex: '90528d7ca1a48142e341f4ef8d21d0de' },
    approxBytes: 248100043,
    note: 'Extract the zip and choose the tiny-imagenet-200 folder as the dataset path.',
  },
  // The md5s are those torchvision's MNIST classes check (Fashion-MNIST's are also in its
  // README). LeCun's site often refuses downloads now; torchvision's mirror serves the same files.
  mnist: idxRelease(
    'mnist',
    'MNIST',
    'http://yann.lecun.com/exdb/mnist/',
    [
      'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'd53e105ee54ea40749a09fcbcd1e9432',
      '9fb629c4189551a2d022fa330f9573f3',
      'ec29112dd5afa0611ce80d1b7f02629c',
    ],
    ['https://ossci-datasets.s3.amazonaws.com/mnist/'],
  ),
  'fashion-mnist': idxRelease(
    'fashion-mnist',
    'Fashion-MNIST',
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    [
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ],
  ),
  kmnist: idxRelease('kmnist', 'Kuzushiji-MNIST', 'http://codh.rois.ac.jp/kmnist/dataset/kmnist/', [
    'bdb82020997e1d708af4cf47b453dcf7',
    'e144d726b3acfaa3e44228e80efcd344',
    '5c965bf0a639b31b8f53240b1b52f4d7',
    '7320c461ea6c1c855c0b718fb2a4b134',
  ]),
  emnist: {
    title: 'EMNIST',
    url: 'https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip',
    fileName: 'gzip.zip',
    checksum: { algorithm: 'md5', hex: '58c8d27c78d21e728a6bc7b3cc06412e' },
    folder: 'emnist',
    note: 'Extract gzip.zip where it is (its gzip folder holds every split); then `--dataset emnist` (balanced) or emnist-letters, emnist-digits, emnist-byclass finds it.',
  },
};
