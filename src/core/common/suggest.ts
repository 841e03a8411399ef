// "Did you mean": the closest known name to a mistyped one (a command, a flag, a dataset),
// by edit distance with transpositions ("trian" is one edit from "train").

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  return d[a.length]![b.length]!;
}

/**
 * The known name closest to `word`, when it is close enough to be a typo of it (one edit in a
 * short name, up to a third of a longer one); null otherwise.
 */
export function closest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const most = Math.max(1, Math.floor(w.length / 3));
  let best: { name: string; d: number } | null = null;
  for (const name of known) {
    const d = editDistance(w, name.toLowerCase());
    if (d <= most && (!best || d < best.d)) best = { name, d };
  }
  return best?.name ?? null;
}

/** " Did you mean X?" (with a leading space), or "" when nothing known is close. */
export function didYouMean(word: string, known: readonly string[], shown = (s: string) => s): string {
  const c = closest(word, known);
  return c === null ? '' : ` Did you mean ${shown(c)}?`;
}
