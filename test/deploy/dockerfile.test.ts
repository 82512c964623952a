import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHART, ROOT, at } from './render';

// No Docker engine runs here: these check what the image promises the manifests.
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));
const stages = instructions
  .join('\n')
  .split(/^FROM /m)
  .slice(1);
const finalStage = stages[stages.length - 1] ?? '';

describe('Dockerfile', () => {
  it('builds in a stage of its own and runs the bundled CLI on Node 24 without node_modules', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24[-\w]*slim$/m);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(finalStage).not.toMatch(/npm (ci|install)|node_modules/);
    // What the final stage copies from the others: node and its libraries, the bundle, its
    // vendor files, package.json (the version) and the compile cache; nothing of the build's
    // dist/ or node_modules else.
    const copied = [...finalStage.matchAll(/^COPY --from=(\S+) (.+)$/gm)].map((m) => m[1]);
    expect(copied.sort()).toEqual(['app', 'compile-cache', 'runtime']);
    const app = stages.find((s) => s.startsWith('scratch AS app')) ?? '';
    expect([...app.matchAll(/^COPY (.+)$/gm)].map((m) => m[1])).toEqual([
      '--from=build /app/dist/cli.js /app/dist/cli.js.map /app/dist/',
      '--from=build /app/dist/vendor /app/dist/vendor',
      '--from=build /app/dist/THIRD_PARTY_NOTICES /app/',
      'package.json LICENSE /app/',
    ]);
  });

  it('ships the Apache-2.0 LICENSE at the package root, /app/LICENSE, as the label says', () => {
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
    expect(finalStage).toContain('org.opencontainers.image.licenses="Apache-2.0"');
    const app = stages.find((s) => s.startsWith('scratch AS app')) ?? '';
    expect(app).toMatch(/^COPY (?!--from)(?:\S+ )*LICENSE (?:\S+ )*\/app\/$/m);
    // The final stage takes the app stage's /app whole.
    expect(finalStage).toMatch(/^WORKDIR \/app$/m);
    expect(finalStage).toMatch(/^COPY --from=app \/app \.\/$/m);
  });

  it('ships the bundled packages’ notices beside /app/LICENSE and node’s licence beside node', () => {
    // The build writes the notices into dist/ (test/deploy/notices.test.ts); the app stage
    // puts them at the package's root, which the final stage takes whole.
    const app = stages.find((s) => s.startsWith('scratch AS app')) ?? '';
    expect(app).toMatch(/^COPY --from=build \/app\/dist\/THIRD_PARTY_NOTICES \/app\/$/m);
    // The base image unpacks the Node.js release into /usr/local: its LICENSE lies there,
    // beside bin/node, and the runtime stage gathers it with node, failing without it.
    const runtime = stages.find((s) => s.startsWith('${NODE_IMAGE} AS runtime')) ?? '';
    expect(runtime).toContain('cp -a /usr/local/LICENSE /runtime/usr/local/;');
    expect(runtime).toMatch(/^RUN set -eu;/m);
  });

  it('keeps none of the base image in the final stage but what the runtime stage gathers', () => {
    // From scratch, so npm, npx, corepack, yarn and the shell of the Node.js image stay out;
    // with no base image's ENV, PATH is what lets the entrypoint name node.
    expect(finalStage).toMatch(/^scratch\n/);
    expect(finalStage).toMatch(/^COPY --from=runtime \/runtime \/$/m);
    expect(finalStage).toMatch(/^ENV PATH=\/usr\/local\/bin /m);
    const runtime = stages.find((s) => s.startsWith('${NODE_IMAGE} AS runtime')) ?? '';
    expect(runtime).toContain('cp -a /usr/local/bin/node /runtime/usr/local/bin/');
    expect(runtime).not.toMatch(/npm|npx|corepack|yarn|node_modules/);
  });

  it('runs the CLI as the numeric non-root user the manifests expect, exposing both ports', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(finalStage);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as unknown;
    expect(at(values, 'podSecurityContext', 'runAsUser')).toBe(Number(user?.[1]));
    expect(finalStage).toMatch(/^EXPOSE 8080 9090$/m);
    expect(finalStage).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\.js"\]$/m);
  });

  it('caps glibc at two malloc arenas, in the environment node starts with', () => {
    // Under Node.js 24 the arenas of V8's worker threads kept what a burst had freed; the
    // figures are in the comment above the ENV. The final stage's ENV is all the process
    // gets (nothing of the base image's comes with it).
    const env = [...finalStage.matchAll(/^ENV (.+)$/gm)].flatMap((m) => String(m[1]).split(' '));
    expect(env).toContain('MALLOC_ARENA_MAX=2');
    expect(env.filter((e) => e.startsWith('MALLOC_'))).toEqual(['MALLOC_ARENA_MAX=2']);
  });

  it('carries the OCI labels', () => {
    for (const label of ['title', 'description', 'licenses', 'version', 'revision']) {
      expect(finalStage).toContain(`org.opencontainers.image.${label}=`);
    }
  });

  it('sends the build only what it copies', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      String(m[1]).split(' '),
    );
    expect(ignore).toMatch(/^\*$/m);
    for (const path of copied) expect(ignore).toContain(`!${path.replace(/\/$/, '')}`);
    // The build script's own modules go with it.
    const build = readFileSync(join(ROOT, 'scripts', 'build.mjs'), 'utf8');
    const modules = [...build.matchAll(/^} from '\.\/(.+)';$|^import .* from '\.\/(.+)';$/gm)];
    expect(modules.length).toBeGreaterThan(0);
    for (const m of modules) expect(copied).toContain(`scripts/${m[1] ?? m[2]}`);
  });
});
