// `decomposer ARGS` as the reader of test/helpers/reader.ts: the CLI is loaded, then the
// process becomes nobody (when root) and runs it.
import { main } from '../../src/cli/main.ts';
import { becomeReader } from './reader.ts';

becomeReader();
process.exitCode = await main(process.argv.slice(2));
