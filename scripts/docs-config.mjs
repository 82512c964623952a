#!/usr/bin/env node
// Rewrites the README's configuration tables from the schemas (src/config/schema.ts,
// src/config/injector.ts) and the annotation table from src/inject/annotations.ts.
// Run through `npm run docs:config`, which builds first.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { withKeyTables } = require('../dist/config/reference.js');
const { withAnnotationTable } = require('../dist/inject/reference.js');
const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withAnnotationTable(withKeyTables(before));
if (after === before) {
  console.log('README.md: configuration tables are up to date');
} else {
  writeFileSync(readme, after);
  console.log('README.md: configuration tables rewritten');
}
