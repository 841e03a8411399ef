// Top-k accuracy from class probabilities.

/** Fraction of rows whose true label is among the k highest probabilities. */
export function topKAccuracy(probs: Float32Array, labels: Int32Array, classes: number, k: number): number {
  const n = labels.length;
  if (n === 0) return 0;
  let hits = 0;
  for (let r = 0; r < n; r++) {
    const row = r * classes;
    const p = probs[row + labels[r]!]!;
    // The label is in the top k when fewer than k classes beat it (ties count against it).
    let better = 0;
    for (let c = 0; c < classes && better < k; c++) {
      if (c === labels[r]) continue;
      const q = probs[row + c]!;
      if (q > p || (q === p && c < labels[r]!)) better++;
    }
    if (better < k) hits++;
  }
  return hits / n;
}

export function argmaxRows(probs: Float32Array, classes: number): Int32Array {
  const n = probs.length / classes;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = probs[r * classes + c]!;
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}
