/**
 * `npm run bench:table [-- <results.json>] [-- --all]`: the Markdown table of a bench results file
 * (default bench/results/baseline.json), the one README.md's Performance section shows: every
 * metric with a target, its value on each Temporal topology measured, and whether the target is
 * met; `--all` lists every metric. A caption line (machine, commit, load) comes first.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { caption, markdownTargets, readReport } from './report';

const { values, positionals } = parseArgs({
  options: { all: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (positionals.length > 1) {
  process.stderr.write('usage: npm run bench:table [-- <results.json>] [-- --all]\n');
  process.exit(2);
}
const file = resolve(positionals[0] ?? join(__dirname, 'results', 'baseline.json'));
const report = readReport(JSON.parse(readFileSync(file, 'utf8')));
console.log(`${caption(report)}.\n`);
console.log(markdownTargets(report, { all: values.all }));
