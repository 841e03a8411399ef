// Loaded with --import into a command the test will kill: once the command prints a line
// containing HOLD_AT on stderr (a pipe: written synchronously), it stops there, so the kill
// lands after that point (an epoch's checkpoint and record) and before the next.
const at = process.env.HOLD_AT;
if (at) {
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    const r = write(chunk, ...rest);
    if (String(chunk).includes(at)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
    return r;
  }) as typeof process.stderr.write;
}
