/**
 * The `/` status page in a real browser (Debian's chromium, driven by playwright-core), for a
 * healthy proxy and for one with a failing user, both in front of the real simulator. What is
 * checked is structure — elements, their text, their layout boxes, that the style sheet
 * applied under the strict Content-Security-Policy, that a screenshot renders — never pixels.
 * Without /usr/bin/chromium the suite is reported as skipped.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { call } from '../support/http';
import { until } from '../support/wait';
import { ALICE, type RunningApp, startApp } from '../support/app';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const describeWithChromium = existsSync(CHROMIUM) ? describe : describe.skip;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const inside = (inner: Box, outer: Box): boolean =>
  inner.x >= outer.x - 0.5 &&
  inner.y >= outer.y - 0.5 &&
  inner.x + inner.width <= outer.x + outer.width + 0.5 &&
  inner.y + inner.height <= outer.y + outer.height + 0.5;

const overlap = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

async function box(page: Page, selector: string): Promise<Box> {
  const found = await page.locator(selector).boundingBox();
  if (found === null) throw new Error(`${selector} is not rendered`);
  return found;
}

/** A computed style property of the element `selector` finds, as the browser applied it. */
const style = (page: Page, selector: string, property: string): Promise<unknown> =>
  page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${JSON.stringify(property)}]`,
  );

/** Nothing is wider than the window (no horizontal scrolling). */
const fitsWidth = (page: Page): Promise<unknown> =>
  page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');

describeWithChromium('the status page in a real browser', () => {
  let profile: string;
  let browser: BrowserContext;
  const problems: string[] = [];
  let app: RunningApp | undefined;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'vap-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 900 },
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** The page as the browser renders it; console errors (a CSP refusal among them) collected. */
  async function open(width = 1280): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewportSize({ width, height: 900 });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const response = await page.goto(`http://127.0.0.1:${app?.opsPort}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; /,
    );
    return page;
  }

  async function expectScreenshot(page: Page, width: number): Promise<void> {
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(width);
    expect(png.readUInt32BE(20)).toBeGreaterThan(200);
  }

  it('healthy: the verdict, the Vidispine URL, and for each user where it listens, what mints its token, how it lives and its traffic', async () => {
    app = await startApp({
      raw: {
        users: [ALICE, { name: 'bob', listen: '127.0.0.1:0', token: { autoRefresh: true } }],
      },
      vidispine: { admin: { username: 'admin', password: 'admin' } },
    });
    for (let i = 0; i < 3; i++) {
      expect((await call(app.port('alice'), { path: '/API/whoami' })).text).toBe('alice');
    }
    const page = await open();

    expect(await page.title()).toBe('ready · vidispine-auth-proxy');
    const verdict = page.locator('#verdict');
    expect(await verdict.textContent()).toBe('Ready: every user holds a valid token');
    expect(await verdict.getAttribute('class')).toBe('verdict ok');
    expect(await page.locator('#process .vidispine').textContent()).toBe(app.sim.url);
    expect(await page.locator('#process .uptime').textContent()).toMatch(
      /^\d+ s, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/,
    );
    expect(await page.locator('#process .time').textContent()).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(refreshes every 10 s\)$/,
    );
    expect(await page.locator('h1 .version').textContent()).toMatch(/^\d+\.\d+\.\d+/);

    const alice = page.locator('section[data-user="alice"]');
    expect(await alice.getAttribute('data-state')).toBe('valid');
    expect(await alice.locator('.listen').textContent()).toBe(`127.0.0.1:${app.port('alice')}`);
    expect(await alice.locator('.mint').textContent()).toBe(
      'GET /API/token with own password, set in users[0].password',
    );
    expect(await alice.locator('.renewal').textContent()).toBe(
      'renews at ~70 % of the usable 55 s (60 s lifetime − 5 s margin)',
    );
    expect(await alice.locator('.token').textContent()).toMatch(
      // A 60 s token minted within the last second still has a whole minute: `1 m 00 s`.
      /^expires in (\d+ s|1 m 00 s) · minted (just now|\d+ s ago)$/,
    );
    expect(await alice.locator('.requests').textContent()).toBe('3 requests served, 0 errors');
    expect(await alice.locator('.problem').count()).toBe(0);

    const bob = page.locator('section[data-user="bob"]');
    expect(await bob.locator('.mint').textContent()).toBe(
      'GET /API/user/bob/token with admin "admin", set in vidispine.admin.password',
    );
    expect(await bob.locator('.renewal').textContent()).toBe(
      'kept alive by autoRefresh: each use pushes expiry 60 s ahead (at most every 10 s); minted again when idle',
    );
    expect(await bob.locator('.requests').textContent()).toBe('0 requests served, 0 errors');

    // Layout: the header above the cards, the cards side by side without overlapping, the
    // style sheet applied (the CSP let it in), nothing wider than the window.
    const header = await box(page, 'header');
    const [a, b] = [await box(page, '#user-alice'), await box(page, '#user-bob')];
    expect(header.y + header.height).toBeLessThanOrEqual(Math.min(a.y, b.y));
    expect(overlap(a, b)).toBe(false);
    expect(Math.abs(a.y - b.y)).toBeLessThan(1);
    expect(await style(page, '#user-alice', 'backgroundColor')).toBe('rgb(255, 255, 255)');
    expect(await style(page, '#user-alice', 'borderLeftColor')).toBe('rgb(30, 142, 62)');
    expect(await fitsWidth(page)).toBe(true);
    await expectScreenshot(page, 1280);

    // A narrow window stacks the cards.
    const narrow = await open(400);
    const [na, nb] = [await box(narrow, '#user-alice'), await box(narrow, '#user-bob')];
    expect(nb.y).toBeGreaterThanOrEqual(na.y + na.height);
    expect(Math.abs(na.x - nb.x)).toBeLessThan(1);
    expect(await fitsWidth(narrow)).toBe(true);
    await expectScreenshot(narrow, 400);
    expect(problems).toEqual([]);
  }, 60_000);

  it('failing: the user without a token says why, what to do and when the next attempt is', async () => {
    app = await startApp({
      raw: {
        users: [ALICE, { name: 'carol', password: 'not-her-password', listen: '127.0.0.1:0' }],
      },
      noWait: true,
    });
    const running = app;
    await until(() => running.app.store.status().every((s) => s.everHeld || s.failures > 0));
    await until(() => running.app.health.ready().users.some((u) => u.ok));
    expect((await call(app.port('carol'), { path: '/API/whoami' })).status).toBe(503);
    const page = await open();

    expect(await page.title()).toBe('NOT READY · vidispine-auth-proxy');
    expect(await page.locator('#verdict').textContent()).toBe(
      'Not ready: no valid token for carol',
    );
    expect(await page.locator('#verdict').getAttribute('class')).toBe('verdict bad');

    const carol = page.locator('section[data-user="carol"]');
    expect(await carol.getAttribute('data-state')).toBe('pending');
    expect(await carol.locator('.token').textContent()).toBe('none yet');
    expect(await carol.locator('.requests').textContent()).toBe('1 request served, 1 error');
    const problem = carol.locator('.problem[role="alert"]');
    expect(await problem.locator('.reason').textContent()).toBe(
      'unauthorized: Vidispine rejected the password of user "carol" (in users[1].password): check it (HTTP 401 to GET /API/token)',
    );
    expect(await problem.locator('.hint').textContent()).toMatch(
      /^What to do: Vidispine rejected the credentials \(401\): fix the password/,
    );
    expect(await problem.locator('.next').textContent()).toMatch(
      /^1 failed attempt, the last (just now|\d+ s ago); next attempt in \d+ s$/,
    );
    expect(await page.locator('section[data-user="alice"] .problem').count()).toBe(0);

    // The problem sits inside carol's card, below her facts, and is styled as an alert.
    const card = await box(page, '#user-carol');
    const alert = await box(page, '#user-carol .problem');
    const facts = await box(page, '#user-carol dl');
    expect(inside(alert, card)).toBe(true);
    expect(alert.y).toBeGreaterThanOrEqual(facts.y + facts.height);
    expect(await style(page, '#user-carol', 'borderLeftColor')).toBe('rgb(197, 34, 31)');
    await expectScreenshot(page, 1280);
    expect(problems).toEqual([]);
  }, 60_000);
});
