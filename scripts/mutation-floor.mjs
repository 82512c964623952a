// Each policy module must score at least the break threshold on its own: Stryker checks only
// the total, which a well-tested module could lift over a weak one. Reads Stryker's JSON report.
import { readFileSync } from 'node:fs';
import config from '../stryker.config.mjs';

const floor = config.thresholds.break;
const report = JSON.parse(readFileSync(config.jsonReporter.fileName, 'utf8'));
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

const below = [];
for (const [file, { mutants }] of Object.entries(report.files)) {
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const valid = detected + mutants.filter((m) => UNDETECTED.has(m.status)).length;
  const score = valid === 0 ? 100 : (100 * detected) / valid;
  if (score < floor) below.push(`${file}: ${score.toFixed(2)} % (${valid - detected} undetected)`);
}
if (below.length > 0) {
  console.error(`Mutation score under ${floor} % in:\n  ${below.join('\n  ')}`);
  process.exit(1);
}
console.log(`Every policy module scores ${floor} % or more.`);
