// Arguments on the command line: every one checked before any work, with one message that
// says what was meant; refused ones exit 2 and leave nothing behind (no run recorded, no
// folder made), and the names and handles a researcher uses in the first hour work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeFolder, untrainedModel } from './helpers/fixtures.ts';
import { parseCommandArgs } from '../src/cli/command.ts';
import { trainCommand } from '../src/cli/commands/train.ts';
import { defaultTrainingDevice } from '../src/core/node/engine/onnx-train/device.ts';
import { tempDir } from './helpers/temp.ts';
import { cli as decomposer, servedAt, startCli } from './helpers/cli.ts';

/** A command whose data folder does not exist unless `--home` gives one: a refusal touches none. */
const cli = (args: string[]) => decomposer(args, { home: '/nonexistent-decomposer-home', timeout: 120_000 });

/** Exit 2 with the message, no stack trace, and the data folder left as it was (empty). */
function refused(args: string[], message: RegExp): void {
  const home = tempDir('args-home');
  const r = cli([...args, '--home', home]);
  const said = `${args.join(' ')}: ${r.stderr}`;
  assert.equal(r.status, 2, said);
  assert.match(r.stderr, message, said);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(home), [], `${args.join(' ')} left ${readdirSync(home).join(', ')}`);
}

test('a refused argument exits 2 before a dataset is read, idle power measured, a folder made or a run recorded', () => {
  // Each was refused only after the work began (a "failed" run and a stray run folder), or
  // not at all: --epochs 0x10 trained 16 epochs, --workers 1e9 started threads until memory
  // ran out, --idle-seconds 2147484 measured idle power for 1 ms. A bad dataset name given
  // after them shows the order: the number is refused first.
  refused(['train', '--depth', '9'], /decomposer train: --depth: must be 6n\+2 from 8 to 200 .*\(got "9"\)/);
  refused(['train', '--epochs', '0'], /--epochs: must be a whole number from 1 to 1000 \(got "0"\)/);
  refused(
    ['train', '--epochs', '0x10', '--dataset', 'nosuch'],
    /--epochs: must be a whole number.*\(got "0x10"\)/,
  );
  refused(
    ['train', '--epochs', '1e12', '--dataset', 'nosuch'],
    /--epochs: must be a whole number.*\(got "1e12"\)/,
  );
  refused(
    ['train', '--workers', '1e9', '--dataset', 'nosuch'],
    /--workers: must be a whole number from 0 to \d+/,
  );
  refused(['train', '--workers', '100000', '--dataset', 'nosuch'], /--workers: must be a whole number/);
  refused(
    ['train', '--idle-seconds', '2147484', '--dataset', 'nosuch'],
    /--idle-seconds: must be a number from 0 to 3,?600/,
  );
  refused(
    ['train', '--size', '12000', '--dataset', 'nosuch'],
    /--size: must be a whole number from 8 to 1,?024/,
  );
  refused(['train', '--lr', '1e308', '--dataset', 'nosuch'], /--lr: must be a number/);
  refused(
    ['demo', '--baseline-epochs', '0x10', '--dataset', 'nosuch'],
    /--baseline-epochs: must be a whole number/,
  );
  refused(
    ['experiment', 'reuse', '--model', '/no/model', '--pick', '1'],
    /--pick: must be a whole number from 2/,
  );
  refused(
    ['wizard', '--model', '/no/model', '--options', '1,5'],
    /--options\[1\]: must be one of 1, 2, 3, 4 \(got "5"\)/,
  );
  refused(
    ['decompose', '--model', '/no/model', '--inference', 'onnx'],
    /--inference: must be auto, onnxruntime, tfjs \(got "onnx"\)/,
  );
  // Taken as 5 s before, whatever was given; and a checksum that can never verify, before a download.
  refused(
    ['energy', 'check', '--seconds', 'abc'],
    /--seconds: must be a number from 1 to 3,?600 \(got "abc"\)/,
  );
  refused(['download', 'cifar10', '--sha256', 'abc'], /--sha256: must be a sha256 in hex \(got "abc"\)/);
  refused(
    ['train', '--seed', '-1'],
    /--seed needs a value \(for one that starts with "-", write --seed=-1\)/,
  );
});

test('a mistyped command, flag or dataset name is answered with the one meant, in one short line', () => {
  const cmd = cli(['trian']);
  assert.equal(cmd.status, 2);
  assert.match(cmd.stderr, /Unknown command "trian"\. Did you mean "decomposer train"\?/);

  const flag = cli(['train', '--datset', 'shapes']);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /decomposer train has no option --datset\. Did you mean --dataset\?/);
  assert.doesNotMatch(flag.stderr, /'-- "--datset"'|positional/, 'not parseArgs’ own message');

  const home = tempDir('args-names');
  const data = cli(['train', '--dataset', 'fashon-mnist', '--home', home]);
  assert.equal(data.status, 2);
  assert.match(data.stderr, /Unknown dataset "fashon-mnist"\. Did you mean "fashion-mnist"\?/);
  assert.ok(data.stderr.length < 300, `one short line, not the whole list: ${data.stderr.length} characters`);
  const part = cli(['train', '--dataset', 'shapes+texturs', '--home', home]);
  assert.match(part.stderr, /Unknown dataset "texturs" in "shapes\+texturs"\. Did you mean "textures"\?/);

  // A dataset that is downloaded, named without its path, says how to get it.
  const cifar = cli(['train', '--dataset', 'cifar10', '--home', home]);
  assert.equal(cifar.status, 2);
  assert.match(cifar.stderr, /CIFAR-10 is not on this machine.*`decomposer download cifar10`/);
  assert.deepEqual(readdirSync(home), []);
});

test('--model given a file says what a model folder is and what to do with the file', () => {
  const dir = tempDir('args-file');
  for (const name of ['model.onnx', 'model.pt']) {
    const file = path.join(dir, name);
    writeFileSync(file, 'not a folder');
    for (const args of [
      ['evaluate', '--model', file],
      ['decompose', '--model', file, '--list'],
      ['predict', '--model', file, file],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(
        r.stderr,
        /is a file, not a model folder: a model is a folder holding model\.json and weights\.bin/,
      );
      assert.doesNotMatch(r.stderr, /ENOTDIR|permissions/);
    }
  }
  const keras = path.join(dir, 'model.h5');
  writeFileSync(keras, 'x');
  assert.match(
    cli(['evaluate', '--model', keras]).stderr,
    /tensorflowjs_converter --input_format keras model\.h5 DIR/,
  );
});

test('a model whose input is larger than 1024x1024 is refused before anything of its size is allocated', async () => {
  const dir = await untrainedModel(tempDir('args-huge'), {
    inputSize: 16,
    classes: 2,
    meta: { inputSize: 12000, classNames: ['a', 'b'], datasetId: 'x' },
  });
  // The global pooling makes the weights fit any input: only the input layer says 12000.
  const file = path.join(dir, 'model.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\[null,16,16,3\]/g, '[null,12000,12000,3]'));
  assert.match(readFileSync(file, 'utf8'), /12000/);
  const image = path.join(dir, 'cat.png');
  const { default: sharp } = await import('sharp');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
    .png()
    .toFile(image);
  for (const args of [
    ['predict', '--model', dir, image],
    ['evaluate', '--model', dir],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, r.stderr);
    // Refused by the model's own metadata or by its input layer, in either case naming the
    // size and the bound.
    assert.match(r.stderr, /12000/);
    assert.match(r.stderr, /(at most|sides are 1 to) 1,?024\b/);
  }
});

/** An IDX file: magic (unsigned bytes, the number of dimensions), the sizes, the data. */
function idx(dims: number[], value: (i: number) => number): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([head, Uint8Array.from({ length: n }, (_, i) => value(i))]);
}

/** The four files of an MNIST-family release with `train` and `test` images. */
function idxRelease(dir: string, train: number, test: number): string {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, b: Buffer) => writeFileSync(path.join(dir, name), b);
  write(
    'train-images-idx3-ubyte',
    idx([train, 28, 28], (i) => i % 251),
  );
  write(
    'train-labels-idx1-ubyte',
    idx([train], (i) => i % 10),
  );
  write(
    't10k-images-idx3-ubyte',
    idx([test, 28, 28], (i) => i % 251),
  );
  write(
    't10k-labels-idx1-ubyte',
    idx([test], (i) => i % 10),
  );
  return dir;
}

test('a dataset split without images is refused before a run is recorded, not trained into a "finished" run', () => {
  const root = tempDir('args-idx');
  for (const [name, train, testCount, split] of [
    ['no-train', 0, 20, 'training'],
    ['no-test', 20, 0, 'test'],
  ] as const) {
    const home = tempDir('args-idx-home');
    const r = cli([
      'train',
      '--dataset',
      `fashion-mnist:${idxRelease(path.join(root, name), train, testCount)}`,
      '--depth',
      '8',
      '--epochs',
      '1',
      '--idle-seconds',
      '0',
      '--home',
      home,
    ]);
    assert.equal(r.status, 2, r.stderr);
    // The loader refuses the empty file itself; a split left empty otherwise is refused by name.
    const file = split === 'training' ? 'train' : 't10k';
    assert.match(
      r.stderr,
      new RegExp(`no images in its ${split} split|${file}-images-idx3-ubyte holds no images`),
    );
    assert.equal(existsSync(path.join(home, 'decomposer.db')), false, 'no run recorded');
    assert.equal(existsSync(path.join(home, 'runs')), false, 'no run folder');
  }
});

test('the run folder is named as train --help says; decompose --export and --export-onnx take latest; another dataset of the same shape warns', async () => {
  const root = tempDir('args-names');
  const colours = await makeFolder(mkdirSync(path.join(root, 'colours'), { recursive: true })!, [
    ['red', [220, 20, 20]],
    ['blue', [20, 20, 220]],
  ]);
  const home = path.join(root, 'home');
  const help = cli(['train', '--help']).stdout;
  assert.match(help, /<home>\/runs\/<dataset id>-r<depth>-s<seed>/);
  const trained = cli([
    'train',
    '--dataset',
    `folder:${colours}`,
    '--size',
    '8',
    '--depth',
    '8',
    '--epochs',
    '1',
    '--batch',
    '4',
    '--idle-seconds',
    '0',
    '--home',
    home,
    '--json',
  ]);
  assert.equal(trained.status, 0, trained.stderr);
  const run = JSON.parse(trained.stdout) as { run: string; model_dir: string };
  // <dataset id>-r<depth>-s<seed>, the id as the help describes it: kind, name, size, ..., hash.
  assert.equal(path.dirname(run.run), path.join(home, 'runs'));
  assert.match(path.basename(run.run), /^folder-colours-8-.*-[0-9a-f]{12}-r8-s1$/);

  const model = run.model_dir;
  const common = ['--model', model, '--idle-seconds', '0', '--home', home];
  const decomposed = cli(['decompose', ...common, '--per-class', '2', '--dataset', `folder:${colours}`]);
  assert.equal(decomposed.status, 0, decomposed.stderr);
  assert.doesNotMatch(decomposed.stderr, /classes are not/, 'its own dataset: no warning');
  const listed = JSON.parse(cli(['decompose', '--model', model, '--list', '--json']).stdout) as {
    modules: { runId: string }[];
  };
  const exported = cli(['decompose', '--model', model, '--export', 'latest']);
  assert.equal(exported.status, 0, exported.stderr);
  assert.deepEqual(
    JSON.parse(exported.stdout),
    JSON.parse(cli(['decompose', '--model', model, '--export', listed.modules[0]!.runId]).stdout),
  );
  const out = path.join(root, 'onnx');
  const onnx = cli(['decompose', '--model', model, '--export-onnx', 'latest', out]);
  assert.equal(onnx.status, 0, onnx.stderr);
  assert.ok(existsSync(path.join(out, 'composed.onnx')));

  // Two classes of the same size, other names: decomposed as asked, with a warning.
  const other = await makeFolder(mkdirSync(path.join(root, 'fruit'), { recursive: true })!, [
    ['apple', [20, 200, 20]],
    ['plum', [120, 20, 120]],
  ]);
  const elsewhere = cli(['decompose', ...common, '--per-class', '2', '--dataset', `folder:${other}`]);
  assert.equal(elsewhere.status, 0, elsewhere.stderr);
  assert.match(
    elsewhere.stderr,
    /warning: the model's classes are not those of .*: class 0 is "blue" in the model but "apple" in the dataset/,
  );
});

test('decomposer serve builds the user interface when it is missing, then serves it', async () => {
  const build = path.join(tempDir('args-build'), 'out');
  const child = startCli(['serve', '--port', '0'], {
    home: tempDir('args-serve-home'),
    env: { DECOMPOSER_BUILD_DIR: build },
  });
  try {
    const url = await servedAt(child);
    assert.ok(existsSync(path.join(build, 'renderer', 'index.html')), 'built into DECOMPOSER_BUILD_DIR');
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<!doctype html>/i);
  } finally {
    child.kill('SIGTERM');
  }
});

test("parsing a command's options is pure: the process-wide device is not set by it, and every option comes back typed", () => {
  const before = defaultTrainingDevice();
  const o = parseCommandArgs(
    'train',
    trainCommand.args,
    { device: before === 'gpu' ? 'cpu' : 'gpu', epochs: '3', 'no-augment': true },
    {},
  );
  assert.equal(defaultTrainingDevice(), before);
  assert.deepEqual([o.params.epochs, o.params.augment, o.params.depth], [3, false, 20]);
});
