// Varco browser test of the SPID/CIE sign-in: headless Chromium, in Italian,
// presses "Entra con SPID" / "Entra con CIE" on Varco's login page, logs in
// at the reference provider (e2e/spid/peers.py), agrees at its consent page
// and lands on Varco: on the account page of the right person, on the
// school-choice page (then chooses), or on the "no account: contact your
// secretariat" page. Every Varco page met on the way is checked with
// axe-core (WCAG 2.0/2.1 A and AA) at 1280 and 320 px (no sideways overflow
// at 320 px, WCAG 1.4.10). The providers' own pages are not checked: they
// are not Varco's.
//
//   VARCO_E2E_BASE_URL=http://127.0.0.1:PORT
//   VARCO_E2E_PLAN='[{"button":"spid","provider":"spid-test","username":"…",
//       "password":"…","expect":"account","text":"Mario Rossi"},
//     {"button":"cie",…,"expect":"choose","choose":"RMIC00002","text":"…"},
//     {"button":"cie",…,"expect":"no_account"}]'
//   node spid_browser.mjs
//
// Each sign-in runs in a new browser context (no cookies shared).
// Optional: VARCO_E2E_SHOTS=DIR keeps a screenshot of each Varco page at
// 390 px there (for a person to look at; nothing checks them);
// VARCO_E2E_CHROMIUM (default /usr/bin/chromium).
// Prints "e2e spid: ok (N sign-ins, M pages checked)" and exits 0, or every
// problem found and exits 1. Bounded by 150 s overall.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BUDGET_MS = 150_000;
let step = 'start';
const watchdog = setTimeout(() => {
  console.error(`e2e spid: FAILED: overall timeout of ${BUDGET_MS / 1000} s exceeded at step "${step}"`);
  process.exit(1);
}, BUDGET_MS);
watchdog.unref();

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const WIDTHS = [
  { width: 1280, height: 900 },
  { width: 320, height: 640 },
];

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} must be set`);
  return v;
};
const base = env('VARCO_E2E_BASE_URL').replace(/\/$/, '');
const plan = JSON.parse(env('VARCO_E2E_PLAN'));
const shots = process.env.VARCO_E2E_SHOTS;

const problems = [];
let checked = 0;
let page;

/** axe-core and the reflow check on the Varco page as it is, at both widths. */
async function audit(name) {
  step = `audit "${name}"`;
  if (!page.url().startsWith(base)) throw new Error(`${name}: expected a Varco page, got ${page.url()}`);
  if ((await page.evaluate(() => document.documentElement.lang)) !== 'it') {
    problems.push(`[${name}] the page is not in Italian`);
  }
  checked += 1;
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    // Evaluated through the debugging protocol: the page's CSP does not apply.
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      TAGS,
    );
    for (const v of result.violations) {
      const nodes = v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary || ''}`.slice(0, 300));
      problems.push(`[${name} @ ${size.width}px] ${v.id} (${v.impact}): ${v.help}\n      ${nodes.join('\n      ')}`);
    }
    if (size.width === 320) {
      const overflow = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      if (overflow.scroll > overflow.client) {
        problems.push(`[${name} @ 320px] reflow: ${overflow.scroll}px wide in a ${overflow.client}px window`);
      }
    }
  }
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const file = `${String(checked).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}-390.png`;
    await page.screenshot({ path: `${shots}/${file}`, fullPage: true });
  }
  await page.setViewportSize(WIDTHS[0]);
}

/** Clicks `locator` and waits for the page it leads to (redirects included). */
async function clickAndWait(locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

async function signIn(person) {
  const who = `${person.username} (${person.button})`;
  step = `${who}: Varco's login page`;
  await page.goto(`${base}/login`, { waitUntil: 'load' });
  await audit(`login with buttons`);
  if (person.button === 'spid') {
    step = `${who}: "Entra con SPID"`;
    await clickAndWait(page.locator('#upstream-spid'));
    if (!page.url().startsWith(`${base}/login/upstream/spid`)) throw new Error(`${who}: the SPID button led to ${page.url()}`);
    await audit('spid provider list');
    step = `${who}: the provider ${person.provider}`;
    await clickAndWait(page.locator(`#upstream-${person.provider}`));
  } else {
    step = `${who}: "Entra con CIE"`;
    await clickAndWait(page.locator('a[id^="upstream-cie-"]').first());
  }
  // The reference provider's login form, then its consent form.
  step = `${who}: the provider's login form at ${page.url()}`;
  if (page.url().startsWith(base)) throw new Error(`${who}: still on Varco at ${page.url()}`);
  await page.fill('input[name=username]', person.username);
  await page.fill('input[name=password]', person.password);
  await clickAndWait(page.locator('form:has(input[name=password]) [type=submit]').first());
  step = `${who}: the provider's consent form at ${page.url()}`;
  await clickAndWait(page.locator('button#agree'));
  step = `${who}: back on Varco at ${page.url()}`;
  if (!page.url().startsWith(base)) throw new Error(`${who}: not back on Varco: ${page.url()}`);

  if (person.expect === 'choose') {
    if (!page.url().startsWith(`${base}/login/upstream/`)) throw new Error(`${who}: expected the school choice, got ${page.url()}`);
    await page.locator(`#choose-${person.choose}`).waitFor();
    await audit('school choice');
    step = `${who}: chooses ${person.choose}`;
    await clickAndWait(page.locator(`#choose-${person.choose}`));
  }
  if (person.expect === 'no_account') {
    const reason = await page.locator('#upstream-refused').getAttribute('data-reason');
    if (reason !== 'no_account') throw new Error(`${who}: expected the no-account page, got reason ${reason} at ${page.url()}`);
    await audit('no account: contact the secretariat');
    const me = await page.request.get(`${base}/api/v1/me`);
    if (me.status() !== 401) throw new Error(`${who}: a session exists after the no-account page (${me.status()})`);
    return;
  }
  step = `${who}: the account page`;
  if (page.url() !== `${base}/account`) throw new Error(`${who}: expected ${base}/account, got ${page.url()}`);
  const body = await page.locator('main').innerText();
  if (!body.includes(person.text)) throw new Error(`${who}: the account page does not show "${person.text}":\n${body}`);
  await audit(`account after ${person.button}`);
  const me = await (await page.request.get(`${base}/api/v1/me`)).json();
  console.log(`e2e spid: ${who} signed in as ${me.user_code} (${me.kind}, ${me.school_code ?? ''})`);
}

let browser;
let code = 1;
try {
  browser = await chromium.launch({
    executablePath: process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium',
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
  });
  for (const person of plan) {
    const context = await browser.newContext({ locale: 'it-IT', bypassCSP: true });
    context.setDefaultTimeout(20_000);
    page = await context.newPage();
    try {
      await signIn(person);
    } catch (e) {
      problems.push(`${step}: ${e.message}`);
    }
    await context.close();
  }
  if (problems.length === 0) {
    console.log(`e2e spid: ok (${plan.length} sign-ins, ${checked} pages checked)`);
    code = 0;
  } else {
    console.error(`e2e spid: FAILED, ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
} catch (e) {
  console.error(`e2e spid: FAILED at step "${step}": ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
