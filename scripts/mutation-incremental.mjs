// Trims the incremental file Stryker wrote (stryker.config.mjs, `incrementalFile`) to what the
// next run reuses, so the committed file holds no machine's paths and stays small: each
// mutant's status and the tests that covered or killed it, without the failure text and stack
// of every killed mutant, the project's absolute root or the report's branding.
import { readFileSync, writeFileSync } from 'node:fs';
import config from '../stryker.config.mjs';

const file = config.incrementalFile;
const report = JSON.parse(readFileSync(file, 'utf8'));
const at = ({ location: { start } }) => start.line * 10_000 + start.column;
for (const { mutants } of Object.values(report.files)) {
  // In source order, so a run that re-tested every mutant writes them as one that reused them.
  mutants.sort(
    (a, b) =>
      at(a) - at(b) ||
      a.mutatorName.localeCompare(b.mutatorName) ||
      a.replacement.localeCompare(b.replacement),
  );
  for (const mutant of mutants) {
    // An equivalent mutant's reason is the `Stryker disable` comment; keep it.
    if (mutant.status !== 'Ignored') delete mutant.statusReason;
    // A reused result lists no killing test where a fresh one omits the list.
    if (mutant.killedBy?.length === 0) delete mutant.killedBy;
  }
}
delete report.projectRoot;
delete report.framework;
delete report.config;
// Keys in one order whichever way Stryker built each object.
const sorted = (_key, value) =>
  value === null || typeof value !== 'object' || Array.isArray(value)
    ? value
    : Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(file, `${JSON.stringify(report, sorted, 1)}\n`);
