// decomposer download: fetch a public dataset, only because the user asked.
import { COMMON_ARGS, type Command } from '../command.ts';
import { dataHomeOf, HOME_ARGS } from '../options.ts';
import { v } from '../../core/common/schema.ts';
import { EXIT, interruptSignal, print, printJson, stageProgress } from '../output.ts';
import { downloadDataset, KNOWN_DOWNLOADS, type DownloadName } from '../../core/node/data/index.ts';
import { downloadsDir } from '../../core/node/paths.ts';
import { UserError } from '../../core/common/errors.ts';
import { didYouMean } from '../../core/common/suggest.ts';

const NAMES = Object.keys(KNOWN_DOWNLOADS) as DownloadName[];

const DOWNLOAD_ARGS = v.object({
  ...COMMON_ARGS,
  ...HOME_ARGS,
  url: v.optional(v.string()),
  // A checksum of another length can never verify: refused before anything is downloaded.
  sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64}$/, 'must be a sha256 in hex'))),
  md5: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{32}$/, 'must be an md5 in hex'))),
});

export const downloadCommand: Command<v.InferOutput<typeof DOWNLOAD_ARGS>> = {
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
  args: DOWNLOAD_ARGS,
  async run(o, positionals) {
    const name = positionals[0] as DownloadName | undefined;
    if (!name || !NAMES.includes(name)) {
      throw new UserError(
        `Say which dataset to download${name ? ` ("${name}" is not one)` : ''}.${name ? didYouMean(name, NAMES) : ''}`,
        `Use one of: ${NAMES.join(', ')}.`,
        'usage',
      );
    }
    const { json } = o;
    const show = stageProgress();
    const r = await downloadDataset(name, {
      destDir: downloadsDir(dataHomeOf(o)),
      url: o.url,
      sha256: o.sha256,
      md5: o.md5,
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
