#!/usr/bin/env node
// Rewrites the README's configuration tables from the schema (src/config/schema.ts).
// Run through `npm run docs:config`, which builds first.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { withKeyTables } = require('../dist/config/reference.js');
const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withKeyTables(before);
if (after === before) {
  console.log('README.md: configuration tables are up to date');
} else {
  writeFileSync(readme, after);
  console.log('README.md: configuration tables rewritten');
}
