// decomposer download: fetch a public dataset, only because the user asked.
import type { Command } from '../command.ts';
import { engineSettings } from '../options.ts';
import { EXIT, interruptSignal, print, printJson, stageProgress } from '../output.ts';
import { downloadDataset, KNOWN_DOWNLOADS, type DownloadName } from '../../core/node/data/index.ts';
import { downloadsDir } from '../../core/node/paths.ts';
import { UserError } from '../../core/common/errors.ts';
import { didYouMean } from '../../core/common/suggest.ts';

const NAMES = Object.keys(KNOWN_DOWNLOADS) as DownloadName[];

export const downloadCommand: Command = {
  name: 'download',
  summary: 'download CIFAR-10/100, Tiny ImageNet or the MNIST family (resumes; verifies the checksum)',
  usage: `Usage: decomposer download NAME [options]

Downloads a public dataset archive into <home>/downloads, showing progress, resuming a
partial download, and verifying its checksum. Nothing is ever downloaded unless asked.
NAME is one of: ${NAMES.join(', ')}.
The MNIST family's four IDX files go into <home>/downloads/NAME, where \`--dataset NAME\`
finds them (EMNIST: extract gzip.zip there).

  --url URL           another address for the same archive (a mirror; for the MNIST family
                      the folder address its four files are under)
  --sha256 HEX        the checksum to verify with --url
  --md5 HEX           likewise, as md5
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`,
  options: {
    url: { type: 'string' },
    sha256: { type: 'string' },
    md5: { type: 'string' },
    home: { type: 'string' },
  },
  async run(v, positionals) {
    const name = positionals[0] as DownloadName | undefined;
    if (!name || !NAMES.includes(name)) {
      throw new UserError(
        `Say which dataset to download${name ? ` ("${name}" is not one)` : ''}.${name ? didYouMean(name, NAMES) : ''}`,
        `Use one of: ${NAMES.join(', ')}.`,
        'usage',
      );
    }
    const json = Boolean(v.json);
    const show = stageProgress();
    const r = await downloadDataset(name, {
      destDir: downloadsDir(engineSettings(v).home),
      url: v.url as string | undefined,
      sha256: v.sha256 as string | undefined,
      md5: v.md5 as string | undefined,
      signal: interruptSignal(),
      onProgress: (p) => show(p.fraction, p.stage, p.detail),
    });
    if (json) printJson({ dataset: name, ...r });
    else {
      print(
        `${r.alreadyPresent ? 'already downloaded' : 'downloaded'}: ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB)`,
      );
      print(
        r.verified ? `${r.verified.algorithm} verified` : 'no checksum known for this address: not verified',
      );
      const known = KNOWN_DOWNLOADS[name];
      if (known.note) print(known.note);
      print(`use it with: decomposer train --dataset ${known.files ? name : `${name}:${r.path}`}`);
    }
    return EXIT.ok;
  },
};
