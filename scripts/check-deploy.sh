#!/usr/bin/env bash
# Readies what test/deploy needs and checks the container image's production install.
# Run after `npm run build`, before `npm test` (CI does); safe to repeat.
#  1. kubectl, for `kubectl kustomize` (Debian's kubernetes-client where it is missing;
#     deploy/ needs kustomize v4+, i.e. kubectl 1.21 or newer).
#  2. The helm-template renderer (../shared/tools/helm-template), built on first use from
#     Debian's Go packages, so no test waits for that build.
#  3. The Dockerfile's runtime stage in miniature: `npm ci --omit=dev` of the built package
#     in a temporary copy, then every compiled module loads and the CLI answers --help.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

if ! command -v kubectl >/dev/null; then
  echo "check-deploy: installing kubectl (kubernetes-client)"
  apt_install kubernetes-client
fi
minor=$(kubectl version --client -o json 2>/dev/null | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(parseInt(JSON.parse(s).clientVersion.minor,10)||0))')
if [ "$minor" -lt 21 ]; then
  echo "check-deploy: kubectl 1.$minor embeds a kustomize older than v4; deploy/ needs kubectl >= 1.21" >&2
  exit 1
fi

helm_template="${HELM_TEMPLATE:-../shared/tools/helm-template/helm-template}"
for attempt in 1 2 3; do
  # The first run installs Go with apt-get; retry if another apt-get holds the lock.
  if "$helm_template" helm/vidispine-auth-proxy >/dev/null; then break; fi
  [ "$attempt" -lt 3 ] || { echo "check-deploy: helm-template failed" >&2; exit 1; }
  sleep 15
done

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
