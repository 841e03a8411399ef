// Compact sets of positions: bit i of a layer's set is bit (i & 7) (least significant
// first) of byte i >> 3. Masks in memory are Uint8Array with one byte per position.

export const bitsetBytes = (size: number) => (size + 7) >> 3;

export function packBits(
  flags: Uint8Array,
  out: Uint8Array = new Uint8Array(bitsetBytes(flags.length)),
): Uint8Array {
  out.fill(0);
  for (let i = 0; i < flags.length; i++) if (flags[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function unpackBits(bits: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (bits[i >> 3]! >> (i & 7)) & 1;
  return out;
}

export function countOnes(flags: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < flags.length; i++) n += flags[i] ? 1 : 0;
  return n;
}

/** Indices where flags[i] is set. */
export function onesOf(flags: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) out.push(i);
  return out;
}
