// Trims the incremental file Stryker wrote (stryker.config.mjs, `incrementalFile`) to what the
// next run reuses, so the committed file holds no machine's paths and stays small: each
// mutant's status and the tests that covered or killed it, without the failure text and stack
// of every killed mutant, the project's absolute root or the report's branding.
import { readFileSync, writeFileSync } from 'node:fs';
import config from '../stryker.config.mjs';

const file = config.incrementalFile;
const report = JSON.parse(readFileSync(file, 'utf8'));
for (const { mutants } of Object.values(report.files)) {
  for (const mutant of mutants) {
    // An equivalent mutant's reason is the `Stryker disable` comment; keep it.
    if (mutant.status !== 'Ignored') delete mutant.statusReason;
  }
}
delete report.projectRoot;
delete report.framework;
delete report.config;
writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
