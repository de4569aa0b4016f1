// Varco browser test: log in through the real HTML pages with headless Chromium.
//
//   VARCO_E2E_BASE_URL=http://127.0.0.1:41234 VARCO_E2E_LOGIN=... VARCO_E2E_PASSWORD=... \
//   VARCO_E2E_SCREENSHOT=e2e/artifacts/login.png node e2e/login.mjs
//
// Optional: VARCO_E2E_CHROMIUM (default /usr/bin/chromium, Debian's package).
// Optional: VARCO_E2E_NEW_PASSWORD — the account's password has expired: after
// signing in expect the Italian change-password page, change it (current, new,
// new again) and expect the confirmation "Password cambiata".
// Prints "e2e login: ok" and exits 0, or explains the failure (expected vs.
// current URL and visible text), saves <screenshot>-failure.png and exits 1.
// The whole run, browser start and shutdown included, is bounded by 30 s.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const TOTAL_MS = 30_000; // overall budget, including diagnostics and browser shutdown
const CLEANUP_MS = 6_000; // part of the budget kept for diagnostics + closing the browser
const startedAt = Date.now();
const remaining = () => Math.max(1, startedAt + TOTAL_MS - CLEANUP_MS - Date.now());

const PREFIX = 'e2e login:';
const log = (...a) => console.log(PREFIX, ...a);
const err = (...a) => console.error(PREFIX, ...a);

// Last resort: whatever hangs (browser start, a CDP call, close), never exceed the budget.
const watchdog = setTimeout(() => {
  err(`FAILED: overall timeout of ${TOTAL_MS / 1000} s exceeded (watchdog); exiting`);
  process.exit(1);
}, TOTAL_MS);
watchdog.unref();

class StepFailure extends Error {}

let step = 'start';
let expected = '';
const fail = (message) => {
  throw new StepFailure(message);
};

/** Run `fn` as the named step; it fails when the overall budget runs out. */
async function run(name, expect, fn) {
  step = name;
  expected = expect;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new StepFailure(`step not done before the ${TOTAL_MS / 1000} s overall deadline`)),
      remaining(),
    );
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolve to fn()'s value, or to `fallback` if it fails or takes longer than ms. */
function bounded(fn, ms, fallback) {
  return Promise.race([
    Promise.resolve().then(fn).catch((e) => fallback(e)),
    new Promise((resolve) => setTimeout(() => resolve(fallback(new Error(`no answer in ${ms} ms`))), ms).unref()),
  ]);
}

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') fail(`environment variable ${name} must be set`);
  return v;
}

function failurePath(path) {
  return /\.png$/i.test(path) ? path.replace(/\.png$/i, '-failure.png') : `${path}-failure.png`;
}

const consoleErrors = [];
let browser;
let page;
let screenshotPath;
let exitCode = 1;

try {
  await run('configuration', 'VARCO_E2E_BASE_URL, VARCO_E2E_LOGIN, VARCO_E2E_PASSWORD, VARCO_E2E_SCREENSHOT set', async () => {
    screenshotPath = env('VARCO_E2E_SCREENSHOT');
    env('VARCO_E2E_BASE_URL');
    env('VARCO_E2E_LOGIN');
    env('VARCO_E2E_PASSWORD');
  });
  const base = process.env.VARCO_E2E_BASE_URL.replace(/\/+$/, '');
  const executablePath = process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium';

  await run('launch chromium', `Chromium starts from ${executablePath}`, async () => {
    browser = await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: remaining(),
    });
    const context = await browser.newContext({ locale: 'it-IT' });
    page = await context.newPage();
    page.setDefaultTimeout(remaining());
    const clip = (t) => (t.length > 300 ? `${t.slice(0, 300)}...` : t);
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`console: ${clip(m.text())}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${clip(e.message)}`));
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`HTTP ${r.status()} for ${clip(r.url())}`);
    });
  });

  const loginUrl = `${base}/login`;
  await run('open login page', `GET ${loginUrl} answers 2xx`, async () => {
    const response = await page.goto(loginUrl, { waitUntil: 'load', timeout: remaining() });
    if (!response) fail(`no response for ${loginUrl}`);
    if (!response.ok()) fail(`${loginUrl} answered HTTP ${response.status()}`);
  });

  await run('check page language', '<html lang="it">', async () => {
    const lang = await page.evaluate(() => document.documentElement.lang);
    if (lang !== 'it') fail(`document.documentElement.lang is ${JSON.stringify(lang)}, expected "it"`);
  });

  await run('check login heading', 'an <h1> containing "Accedi" (e.g. "Accedi a Varco")', async () => {
    await page.locator('h1', { hasText: 'Accedi' }).first().waitFor({ state: 'visible', timeout: remaining() });
  });

  await run('fill the login form', 'inputs named "login" and "password"', async () => {
    await page.fill('input[name=login]', process.env.VARCO_E2E_LOGIN, { timeout: remaining() });
    await page.fill('input[name=password]', process.env.VARCO_E2E_PASSWORD, { timeout: remaining() });
  });

  const newPassword = process.env.VARCO_E2E_NEW_PASSWORD || '';
  const landing = newPassword ? '/password/change' : '/account';
  await run('submit and reach the next page', `after submitting, a URL ending with ${landing}`, async () => {
    // The form's answer (after any redirects) is one main-frame navigation: wait for it,
    // then check where it landed, so a refused login fails at once rather than at the deadline.
    const navigated = page.waitForEvent('framenavigated', {
      predicate: (frame) => frame === page.mainFrame(),
      timeout: remaining(),
    });
    navigated.catch(() => {}); // reported through the await below
    // The submit button of the form holding the login field (not e.g. a language switcher).
    await page.click('form:has(input[name=login]) button[type=submit]', { timeout: remaining() });
    await navigated;
    await page.waitForLoadState('load', { timeout: remaining() });
    const landed = new URL(page.url());
    if (!landed.pathname.endsWith(landing)) fail(`the form submission ended on ${page.url()}`);
  });

  if (newPassword) {
    await run('check the expired-password notice', 'the visible text "La tua password è scaduta"', async () => {
      await page.getByText('La tua password è scaduta').first().waitFor({ state: 'visible', timeout: remaining() });
    });
    await run('change the password', 'current, new and repeated password accepted: "Password cambiata"', async () => {
      await page.fill('input[name=current_password]', process.env.VARCO_E2E_PASSWORD, { timeout: remaining() });
      await page.fill('input[name=new_password]', newPassword, { timeout: remaining() });
      await page.fill('input[name=new_password_confirm]', newPassword, { timeout: remaining() });
      await page.click('form:has(input[name=new_password]) button[type=submit]', { timeout: remaining() });
      await page.getByText('Password cambiata').first().waitFor({ state: 'visible', timeout: remaining() });
    });
  } else {
    await run('check account page', 'the visible text "Il tuo account"', async () => {
      await page.getByText('Il tuo account').first().waitFor({ state: 'visible', timeout: remaining() });
    });
  }

  await run('take screenshot', `a full-page screenshot saved to ${screenshotPath}`, async () => {
    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true, timeout: remaining() });
  });

  for (const e of consoleErrors) err(`note: ${e}`);
  log('ok');
  exitCode = 0;
} catch (e) {
  const reason = e instanceof StepFailure ? e.message : (e && e.message) || String(e);
  const lines = [
    `${PREFIX} FAILED at step "${step}"`,
    `  expected: ${expected}`,
    `  error:    ${reason.split('\n')[0]}`,
  ];
  if (page) {
    const text = await bounded(
      async () => {
        const read = () => page.evaluate(() => (document.body ? document.body.innerText : ''));
        // A failed navigation may still be swapping in Chromium's error page: retry once.
        return await read().catch(() => new Promise((r) => setTimeout(r, 300)).then(read));
      },
      2_000,
      (x) => `(visible text unavailable: ${x.message.split('\n')[0]})`,
    );
    lines.push(`  current URL: ${page.url()}`);
    const clipped = text.length > 2000 ? `${text.slice(0, 2000)}\n[... truncated, ${text.length} chars in all]` : text;
    lines.push('  visible text:', ...clipped.split('\n').map((l) => `    | ${l}`));
    if (screenshotPath) {
      const shot = failurePath(screenshotPath);
      const saved = await bounded(
        async () => {
          mkdirSync(dirname(shot), { recursive: true });
          await page.screenshot({ path: shot, fullPage: true, timeout: 2_000 });
          return `  failure screenshot: ${shot}`;
        },
        2_500,
        (x) => `  failure screenshot not saved: ${x.message.split('\n')[0]}`,
      );
      lines.push(saved);
    }
  } else {
    lines.push('  current URL: (no page: the browser did not start)');
  }
  for (const c of consoleErrors.slice(0, 20)) lines.push(`  browser ${c}`);
  console.error(lines.join('\n'));
  exitCode = 1;
} finally {
  if (browser) {
    await bounded(() => browser.close(), 3_000, () => err('browser did not close in 3 s; exiting anyway'));
  }
  process.exit(exitCode);
}
