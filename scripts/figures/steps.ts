// The commands whose outputs the README quotes, in the order they run (a later step may use an
// earlier one's output, e.g. the demo's model folder). `{work}` is the folder the commands
// write into (`node scripts/figures/figures.ts run --work DIR`); `{step.path}` is a value of
// an earlier step's JSON output. Every command runs with `--home {work}/home`, so the user's
// own data folder is never touched.

export interface Step {
  id: string;
  /** What it measures, for the report. */
  what: string;
  /** The command's arguments after `decomposer`; each one prints one JSON object (`--json`). */
  args: string[];
  /** Outputs that vary from run to run by nature (times, energy): rerun checks skip them. */
  volatile?: string[];
  /**
   * A background load beside the command: one busy loop (a process keeping one CPU busy),
   * started `after` of the way through, as long as step `of` took, and stopped when the
   * command ends.
   */
  load?: { after: number; of: string };
  /**
   * A data folder of its own (under --work) instead of the one the steps share: a grid's
   * finished rows are kept in the store and a grid run again resumes from them, so a step
   * that must measure its grid anew (the same demo in another attribution or under load) has
   * to start from an empty store.
   */
  ownHome?: boolean;
}

/** The demo in one attribution, on a quiet machine or with a busy loop from halfway. */
const demoIn = (attribution: 'process' | 'machine', load: boolean): Step => {
  const id = `demo-${attribution}${load ? '-load' : ''}`;
  return {
    id,
    what: `the demo in ${attribution} attribution${load ? ', one CPU kept busy from halfway' : ''}`,
    args: [
      'demo',
      '--attribution',
      attribution,
      '--json',
      '--chart',
      `{work}/${id}/figure6.svg`,
      '--out',
      `{work}/${id}`,
    ],
    ...(load ? { load: { after: 0.5, of: `demo-${attribution}` } } : {}),
    ownHome: true,
  };
};

export const STEPS: Step[] = [
  {
    id: 'demo',
    what: 'the demo with its defaults on the embedded shapes',
    args: ['demo', '--json', '--chart', '{work}/demo/figure6.svg', '--out', '{work}/demo'],
  },
  {
    id: 'demo-fashion',
    what: 'the demo on Debian’s Fashion-MNIST',
    args: [
      'demo',
      '--dataset',
      'fashion-mnist',
      '--json',
      '--chart',
      '{work}/demo-fashion/figure6.svg',
      '--out',
      '{work}/demo-fashion',
    ],
  },
  demoIn('process', false),
  demoIn('process', true),
  demoIn('machine', false),
  demoIn('machine', true),
  {
    id: 'wizard',
    what: 'the fix-it wizard on its planted fault',
    args: ['wizard', '--demo', '--json', '--idle-seconds', '0', '--out', '{work}/wizard'],
  },
  {
    id: 'fashion-1',
    what: 'a ResNet-20 trained one epoch on Fashion-MNIST',
    args: [
      'train',
      '--dataset',
      'fashion-mnist',
      '--epochs',
      '1',
      '--json',
      '--idle-seconds',
      '0',
      '--out',
      '{work}/fashion-1',
    ],
  },
  {
    id: 'fashion-points',
    what: 'Table 1 at the three observation points on that model',
    args: [
      'experiment',
      'decomposition',
      '--model',
      '{fashion-1.model_dir}',
      '--per-class',
      '500',
      '--point',
      'all',
      '--no-save',
      '--idle-seconds',
      '0',
      '--json',
    ],
  },
  {
    id: 'fashion-rules',
    what: 'MC-BLN’s two rules at four δ on that model',
    args: [
      'experiment',
      'decomposition',
      '--model',
      '{fashion-1.model_dir}',
      '--per-class',
      '500',
      '--rule',
      'prose,algorithm2',
      '--delta',
      '0.5,0.1,0.05,0.02',
      '--no-save',
      '--idle-seconds',
      '0',
      '--json',
    ],
  },
  {
    id: 'fashion-modules',
    what: 'that model’s MC-BLN module set, saved',
    args: [
      'decompose',
      '--model',
      '{fashion-1.model_dir}',
      '--per-class',
      '500',
      '--idle-seconds',
      '0',
      '--json',
    ],
  },
  {
    id: 'fashion-export',
    what: 'that module set as portable ONNX files',
    args: [
      'decompose',
      '--model',
      '{fashion-1.model_dir}',
      '--export-onnx',
      'latest',
      '{work}/fashion-export',
      '--json',
    ],
  },
  {
    id: 'shapes-points',
    what: 'Table 1 at the three observation points on the demo’s model',
    args: [
      'experiment',
      'decomposition',
      '--model',
      '{demo.model_dir}',
      '--per-class',
      '500',
      '--point',
      'all',
      '--no-save',
      '--idle-seconds',
      '0',
      '--json',
    ],
  },
  {
    id: 'shapes-rules',
    what: 'MC-BLN’s two rules at four δ on the demo’s model',
    args: [
      'experiment',
      'decomposition',
      '--model',
      '{demo.model_dir}',
      '--per-class',
      '200',
      '--rule',
      'prose,algorithm2',
      '--delta',
      '0.5,0.1,0.05,0.02',
      '--no-save',
      '--idle-seconds',
      '0',
      '--json',
    ],
  },
];
