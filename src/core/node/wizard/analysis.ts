// Finding the fault and judging the repairs: confusion matrix, most-confused pair, the
// victim-to-faulty confusion rate, accuracy on the other classes, and the recommendation.

/** Row = true label, column = predicted label. */
export function confusionMatrix(pred: Int32Array, labels: Int32Array, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]!]![pred[i]!]!++;
  return m;
}

export interface FaultPair {
  /** The class that swallows (predicted). */
  faulty: number;
  /** The class swallowed (true label). */
  victim: number;
  /** Victim images predicted as faulty, and the fraction of the victim's images that is. */
  count: number;
  rate: number;
}

/** The off-diagonal cell with the highest rate (ties: the higher count, then the lower indices). */
export function mostConfusedPair(m: number[][]): FaultPair {
  let best: FaultPair | null = null;
  for (let t = 0; t < m.length; t++) {
    const row = m[t]!;
    const total = row.reduce((a, b) => a + b, 0);
    for (let p = 0; p < row.length; p++) {
      if (p === t) continue;
      const rate = total ? row[p]! / total : 0;
      if (!best || rate > best.rate || (rate === best.rate && row[p]! > best.count))
        best = { faulty: p, victim: t, count: row[p]!, rate };
    }
  }
  return best ?? { faulty: 1, victim: 0, count: 0, rate: 0 };
}

/** Fraction of the victim's images predicted as the faulty class. */
export function confusionRate(pred: Int32Array, labels: Int32Array, victim: number, faulty: number): number {
  let n = 0;
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== victim) continue;
    n++;
    if (pred[i] === faulty) hit++;
  }
  return n ? hit / n : 0;
}

/** Top-1 on the images whose label is none of `exclude`. */
export function accuracyExcept(pred: Int32Array, labels: Int32Array, exclude: number[]): number {
  let n = 0;
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    if (exclude.includes(labels[i]!)) continue;
    n++;
    if (pred[i] === labels[i]) hit++;
  }
  return n ? hit / n : 0;
}

export interface Judged {
  option: number;
  top1: number;
  confusion: number;
  co2e_lbs: number;
  seconds: number;
}

export interface Recommendation {
  option: number;
  reason: string;
}

/**
 * Lowest confusion among the options whose top-1 is within `tolerance` of the best top-1;
 * equal confusion goes to the cheapest (CO2e, then time).
 */
export function recommend(rows: Judged[], tolerance = 0.01): Recommendation | null {
  if (!rows.length) return null;
  const bestTop1 = Math.max(...rows.map((r) => r.top1));
  const eligible = rows.filter((r) => r.top1 >= bestTop1 - tolerance - 1e-12);
  const sorted = eligible
    .slice()
    .sort(
      (a, b) =>
        a.confusion - b.confusion || a.co2e_lbs - b.co2e_lbs || a.seconds - b.seconds || a.option - b.option,
    );
  const pick = sorted[0]!;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const tied = sorted.filter((r) => r.confusion === pick.confusion);
  const others = rows.filter((r) => !eligible.includes(r)).map((r) => r.option);
  const reason =
    `Option ${pick.option}: confusion ${pct(pick.confusion)} with top-1 ${pct(pick.top1)} ` +
    `(best top-1 ${pct(bestTop1)}; options within ${pct(tolerance)} of it: ${eligible.map((r) => r.option).join(', ')})` +
    (others.length ? `; option(s) ${others.join(', ')} lose too much top-1` : '') +
    (tied.length > 1
      ? `; options ${tied.map((r) => r.option).join(', ')} tie on confusion and ${pick.option} is the cheapest (${pick.co2e_lbs.toExponential(2)} lbs CO2e)`
      : '') +
    '.';
  return { option: pick.option, reason };
}
