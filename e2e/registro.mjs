// Varco browser test through the example register (examples/registro), in
// Italian with headless Chromium: a parent signs in to the register with
// Varco, regenerates the PIN on Varco's "Cambia password e/o PIN" page,
// reads it from the email (the test harness writes it to a file once its
// SMTP server received it), justifies two of a child's three absences and
// confirms them on Varco's page with the PIN; the register shows them
// justified. Then a teacher confirms an application with the personal code
// the same way. Varco's new pages pass axe-core (WCAG 2.1 AA) at 1280 and
// 320 px.
//
//   VARCO_E2E_BASE_URL=… VARCO_E2E_REGISTER_URL=… VARCO_E2E_PARENT=…
//   VARCO_E2E_TEACHER=… VARCO_E2E_PASSWORD=… VARCO_E2E_PIN_FILE=…
//   VARCO_E2E_PERSONAL_CODE_FILE=… VARCO_E2E_SCREENSHOT=…  node registro.mjs
//
// Optional: VARCO_E2E_SHOTS=DIR keeps a full-page screenshot of each Varco
// page checked, at 390 px (for a person to look at; nothing checks them).
//
// Prints "e2e registro: ok" and exits 0, or the failing step, the page's
// text and every accessibility problem, and exits 1. Bounded by 80 s.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BUDGET_MS = 80_000;
let step = 'start';
const watchdog = setTimeout(() => {
  console.error(`e2e registro: FAILED: overall timeout of ${BUDGET_MS / 1000} s exceeded at step "${step}"`);
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
const varco = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
const register = env('VARCO_E2E_REGISTER_URL').replace(/\/+$/, '');
const password = env('VARCO_E2E_PASSWORD');
const problems = [];
const shots = process.env.VARCO_E2E_SHOTS;
let checked = 0;
let page;
let browser;
let code = 1;

/** axe-core and the reflow check on a Varco page, at both widths. */
async function audit(name) {
  if (!page.url().startsWith(varco)) throw new Error(`${name}: expected a Varco page, got ${page.url()}`);
  if ((await page.evaluate(() => document.documentElement.lang)) !== 'it') problems.push(`[${name}] not in Italian`);
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
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
      const o = await page.evaluate(() => ({ s: document.documentElement.scrollWidth, c: document.documentElement.clientWidth }));
      if (o.s > o.c) problems.push(`[${name} @ 320px] reflow: ${o.s}px wide in a ${o.c}px window`);
    }
  }
  checked += 1;
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const file = `${String(checked).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}-390.png`;
    await page.screenshot({ path: `${shots}/${file}`, fullPage: true });
  }
  await page.setViewportSize(WIDTHS[0]);
}

/** Waits (up to 30 s) for the harness to write the code it read from the email. */
async function codeFrom(file) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8').trim();
      if (text) return text;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code in ${file}`);
}

/** Signs in to the register through Varco's login page. */
async function signIn(login) {
  await page.goto(`${register}/`);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${varco}/login`)), page.getByText('Accedi con Varco').click()]);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(register)),
    page.click('form:has(input[name=login]) button[type=submit]'),
  ]);
  await page.getByRole('heading', { name: 'Registro elettronico' }).waitFor();
}

/** Regenerates the second secret on Varco's page and returns it from the email. */
async function regenerate(file, name) {
  await page.goto(`${varco}/account/second-secret`);
  await audit(`${name} page`);
  await page.fill('input[name=password]', password);
  await page.click('form[action="/account/second-secret/regenerate"] button[type=submit]');
  await page.locator('#second-secret-notice').waitFor();
  await audit(`${name} sent`);
  return codeFrom(file);
}

try {
  step = 'launch chromium';
  browser = await chromium.launch({
    executablePath: process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
  });
  page = await (await browser.newContext({ locale: 'it-IT' })).newPage();
  page.setDefaultTimeout(15_000);

  step = 'the parent signs in to the register with Varco';
  await signIn(env('VARCO_E2E_PARENT'));
  await page.getByRole('heading', { name: 'Marco Bianchi' }).waitFor();
  const todo = page.locator('input[name=absence]');
  if ((await todo.count()) !== 3) throw new Error(`${await todo.count()} absences to justify, expected 3`);

  step = 'the parent regenerates the PIN and reads it from the email';
  const pin = await regenerate(env('VARCO_E2E_PIN_FILE'), 'PIN');
  if (!/^[0-9]{6}$/.test(pin)) throw new Error(`PIN ${pin}`);

  step = 'the parent picks two absences and a reason';
  await page.goto(`${register}/`);
  await page.locator('input[name=absence]').nth(0).check();
  await page.locator('input[name=absence]').nth(1).check();
  await page.selectOption('select[name=reason]', 'salute');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${varco}/confirm/`)), page.getByRole('button', { name: 'Giustifica' }).click()]);

  step = "Varco shows exactly the act and asks the PIN";
  const description = await page.locator('#confirm-description').innerText();
  if (!/Marco Bianchi/.test(description) || !/salute/.test(description)) throw new Error(`description: ${description}`);
  await audit('confirmation');
  step = 'a wrong PIN is refused with the tries left';
  const wrong = pin === '482913' ? '592046' : '482913';
  await page.fill('input[name=secret]', wrong);
  await page.getByRole('button', { name: 'Conferma' }).click();
  await page.locator('#confirm-error').waitFor();
  if (!/PIN errato/.test(await page.locator('#confirm-error').innerText())) throw new Error('no wrong-PIN message');
  await audit('confirmation wrong PIN');
  step = 'the right PIN confirms and goes back to the register';
  await page.fill('input[name=secret]', pin);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(register)), page.getByRole('button', { name: 'Conferma' }).click()]);
  await page.getByRole('heading', { name: 'Registro elettronico' }).waitFor();
  const justified = await page.getByText('Giustificata', { exact: true }).count();
  if (justified !== 2) throw new Error(`${justified} absences shown justified, expected 2`);
  if ((await page.locator('input[name=absence]').count()) !== 1) throw new Error('the third absence is not still to justify');
  const shot = env('VARCO_E2E_SCREENSHOT');
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });

  step = 'a teacher confirms an application with the personal code';
  page = await (await browser.newContext({ locale: 'it-IT' })).newPage();
  page.setDefaultTimeout(15_000);
  await signIn(env('VARCO_E2E_TEACHER'));
  const personal = await regenerate(env('VARCO_E2E_PERSONAL_CODE_FILE'), 'personal code');
  if (!/^[A-Z0-9]{8}$/.test(personal)) throw new Error(`personal code ${personal}`);
  await page.goto(`${register}/`);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${varco}/confirm/`)),
    page.getByRole('button', { name: 'Conferma con il codice personale' }).click(),
  ]);
  await page.getByText('Codice personale').first().waitFor();
  await page.fill('input[name=secret]', personal.toLowerCase());
  await Promise.all([page.waitForURL((u) => u.href.startsWith(register)), page.getByRole('button', { name: 'Conferma' }).click()]);
  await page.getByText('Confermata', { exact: true }).waitFor();

  if (problems.length) throw new Error(`accessibility:\n  ${problems.join('\n  ')}`);
  console.log('e2e registro: ok');
  code = 0;
} catch (e) {
  let text = '';
  try {
    text = page ? (await page.evaluate(() => document.body.innerText)).slice(0, 2000) : '';
  } catch {}
  console.error(`e2e registro: FAILED at step "${step}": ${(e && e.message) || e}`);
  if (page) console.error(`  current URL: ${page.url()}\n  visible text:\n${text}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
