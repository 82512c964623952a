#!/usr/bin/env bash
# Checks the container image's production install without a container engine: the
# Dockerfile's runtime stage in miniature, `npm ci --omit=dev` of the built package in a
# temporary copy, then every compiled module loads and the CLI answers --help.
# Run after `npm run build` (CI does); safe to repeat. Helm and kubectl for test/deploy are
# fetched by jest's global setup (test/support/k8s-tools.ts), not here.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f dist/cli.js ] || { echo "check-deploy: run npm run build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp/"
cp -r dist "$tmp/dist"
(
  cd "$tmp"
  # --ignore-scripts: `prepare` builds with the dev dependencies, which are left out here.
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  # Loading every module proves no runtime import needs a dev dependency.
  node -e 'const fs=require("fs"),p=require("path");
    const walk=(d)=>fs.readdirSync(d,{withFileTypes:true}).flatMap((e)=>e.isDirectory()?walk(p.join(d,e.name)):e.name.endsWith(".js")?[p.resolve(d,e.name)]:[]);
    for (const f of walk("dist")) require(f);'
  node dist/cli.js --help >/dev/null
  echo "check-deploy: production install ok ($(node dist/cli.js --version), $(ls node_modules | wc -l) packages)"
)
