#!/usr/bin/env node
// Compiles the benchmarks' Go programs (the Go ReverseProxy contender, the admission load
// generator) into their cache ahead of a run, so that the first `npm run bench`,
// `npm run bench:inject` or test/bench run does not spend its first half minute compiling Go's
// standard library. Without `go` on PATH there is nothing to compile: the benchmarks skip
// those programs.
//   npm run bench:prepare
import { buildAdmissionClient, buildGoProxy } from './lib/go.mjs';
import { which } from './lib/procs.mjs';

if (which('go') === undefined) {
  console.log('bench:prepare: go is not on PATH; nothing to compile');
} else {
  for (const binary of await Promise.all([buildGoProxy(), buildAdmissionClient()]))
    console.log(`bench:prepare: ${binary}`);
}
