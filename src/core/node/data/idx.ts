// Reading IDX files, the MNIST family's format: a 4-byte magic number (0, 0, the element type
// 0x08 for unsigned bytes, the number of dimensions), one big-endian uint32 per dimension, then
// the elements row-major; gzip'd or raw. The header is checked before any data is read.

import { UserError } from '../../common/errors.ts';
import { readSized } from '../fs/read.ts';

function corrupt(file: string, what: string): UserError {
  return new UserError(
    `${file} ${what}: it is truncated, corrupt, or not the file its name says.`,
    'Download the dataset again (an interrupted download leaves a short file), or choose the folder of the original files.',
    'corrupt-data',
  );
}

export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** The dimensions an IDX header of unsigned bytes with `ndims` dimensions gives; UserError on anything else. */
function idxDims(head: Uint8Array, ndims: 1 | 3, file: string): number[] {
  const expected = (0x0800 | ndims).toString(16).padStart(8, '0');
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] !== ndims) {
    const got =
      head.length < 4
        ? `only ${head.length} bytes`
        : `magic number 0x${Buffer.from(head.subarray(0, 4)).toString('hex')}`;
    throw new UserError(
      `${file} is not an IDX ${ndims === 3 ? 'image' : 'label'} file: it has ${got}, not the magic number 0x${expected}.`,
      ndims === 3
        ? 'Choose the folder of the original *-images-idx3-ubyte files (gzipped or extracted); an images file may have been swapped with a labels file.'
        : 'Choose the folder of the original *-labels-idx1-ubyte files (gzipped or extracted); a labels file may have been swapped with an images file.',
      'bad-format',
    );
  }
  if (head.length < 4 + 4 * ndims) throw corrupt(file, `ends inside its header (${head.length} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
}

/**
 * Reads an IDX file (gzip'd or raw) of unsigned bytes with `ndims` dimensions. Its header is
 * read first and given to `check` (which refuses what the caller cannot hold) before the data
 * is: a gzip'd file is decompressed only up to the length its header says.
 */
export async function readIdx(
  file: string,
  ndims: 1 | 3,
  check: (dims: number[]) => void,
  signal?: AbortSignal,
): Promise<Idx> {
  const header = 4 + 4 * ndims;
  let dims: number[] = [];
  const buf = await readSized(file, {
    headerBytes: header,
    length: (head) => {
      dims = idxDims(head, ndims, file);
      check(dims);
      return header + dims.reduce((a, b) => a * b, 1);
    },
    wrongLength: (got, want, atLeast) =>
      corrupt(
        file,
        atLeast
          ? `holds more than the ${want - header} bytes of data its header (${dims.join(' x ')}) says`
          : `holds ${got - header} bytes of data but its header (${dims.join(' x ')}) says ${want - header}`,
      ),
    badGzip: (why) => corrupt(file, `could not be decompressed (${why})`),
    signal,
  });
  return { dims, data: buf.subarray(header) };
}
