#!/usr/bin/env bash
# Checks what ships, without a container engine:
#   1. the CLI as the image runs it: dist/cli.js and dist/vendor/ (the bundle and its lazily
#      loaded dependencies) and package.json, with no node_modules anywhere above them,
#      answer --help and --version, and every vendor file loads;
#   2. the package's production install (`npm ci --omit=dev` of the built package in a
#      temporary copy), which the library entry (dist/app.js) needs: every compiled module
#      loads without a dev dependency.
# Run after `npm run build` (CI does); safe to repeat. Helm and kubectl for test/deploy are
# fetched by jest's global setup (test/support/k8s-tools.ts), not here.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f dist/cli.js ] || { echo "check-deploy: run npm run build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/cli/dist"
cp package.json "$tmp/cli/"
cp -r dist/cli.js dist/vendor "$tmp/cli/dist/"
(
  cd "$tmp/cli"
  node dist/cli.js --help >/dev/null
  for f in $(find dist/vendor -name '*.js'); do
    node -e 'require(require("path").resolve(process.argv[1]))' "$f"
  done
  echo "check-deploy: bundled CLI ok without node_modules ($(node dist/cli.js --version), $(du -sk dist | cut -f1) KiB)"
)

mkdir "$tmp/package"
cp package.json package-lock.json "$tmp/package/"
cp -r dist "$tmp/package/dist"
(
  cd "$tmp/package"
  # --ignore-scripts: `prepare` builds with the dev dependencies, which are left out here.
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  # Loading every module proves no runtime import needs a dev dependency.
  node -e 'const fs=require("fs"),p=require("path");
    const walk=(d)=>fs.readdirSync(d,{withFileTypes:true}).flatMap((e)=>e.isDirectory()?walk(p.join(d,e.name)):e.name.endsWith(".js")?[p.resolve(d,e.name)]:[]);
    for (const f of walk("dist")) require(f);'
  echo "check-deploy: production install ok ($(ls node_modules | wc -l) packages)"
)
