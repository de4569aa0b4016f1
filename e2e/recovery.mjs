// Varco browser test: forgot password and reset through the real pages, in
// Italian, with headless Chromium. Two phases, because the test harness reads
// the reset message from its real SMTP server in between:
//
//   VARCO_E2E_PHASE=forgot VARCO_E2E_BASE_URL=… VARCO_E2E_LOGIN=…  node recovery.mjs
//   VARCO_E2E_PHASE=reset  VARCO_E2E_BASE_URL=… VARCO_E2E_LINK=… VARCO_E2E_LOGIN=…
//       VARCO_E2E_OLD_PASSWORD=… VARCO_E2E_NEW_PASSWORD=… VARCO_E2E_SCREENSHOT=…  node recovery.mjs
//
// Prints "e2e recovery: ok" and exits 0, or the failing step and the page's
// text and exits 1. Each phase is bounded by 30 s.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const watchdog = setTimeout(() => {
  console.error('e2e recovery: FAILED: overall timeout of 30 s exceeded');
  process.exit(1);
}, 30_000);
watchdog.unref();

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} must be set`);
  return v;
};

let step = 'start';
let browser;
let page;
let code = 1;
try {
  const phase = env('VARCO_E2E_PHASE');
  const base = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
  step = 'launch chromium';
  browser = await chromium.launch({
    executablePath: process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
  });
  const context = await browser.newContext({ locale: 'it-IT' });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);

  if (phase === 'forgot') {
    step = 'open /login and follow "Password dimenticata?"';
    await page.goto(`${base}/login`);
    await page.click('text=Password dimenticata?');
    await page.waitForURL(/\/password\/forgot$/);
    step = 'ask for a link';
    await page.fill('input[name=login]', env('VARCO_E2E_LOGIN'));
    await page.click('form:has(input[name=login]) button[type=submit]');
    step = 'the same answer for everyone, with the spam hint';
    await page.getByText('Controlla la tua email').first().waitFor();
    await page.getByText('posta indesiderata').first().waitFor();
  } else if (phase === 'reset') {
    step = 'open the emailed link';
    await page.goto(env('VARCO_E2E_LINK'));
    await page.getByText('Scegli una nuova password').first().waitFor();
    step = 'set the new password twice';
    const fresh = env('VARCO_E2E_NEW_PASSWORD');
    await page.fill('input[name=new_password]', fresh);
    await page.fill('input[name=new_password_confirm]', fresh);
    await page.click('form:has(input[name=new_password]) button[type=submit]');
    await page.getByText('Password salvata').first().waitFor();
    step = 'the old password no longer works';
    await page.goto(`${base}/login`);
    await page.fill('input[name=login]', env('VARCO_E2E_LOGIN'));
    await page.fill('input[name=password]', env('VARCO_E2E_OLD_PASSWORD'));
    await page.click('form:has(input[name=login]) button[type=submit]');
    await page.getByText('Codice utente (o email) o password non corretti').first().waitFor();
    step = 'the new password signs in';
    await page.fill('input[name=login]', env('VARCO_E2E_LOGIN'));
    await page.fill('input[name=password]', fresh);
    await page.click('form:has(input[name=login]) button[type=submit]');
    await page.waitForURL(/\/account$/);
    await page.getByText('Il tuo account').first().waitFor();
    const shot = env('VARCO_E2E_SCREENSHOT');
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
  } else {
    throw new Error(`unknown VARCO_E2E_PHASE ${phase}`);
  }
  console.log('e2e recovery: ok');
  code = 0;
} catch (e) {
  let text = '';
  try {
    text = page ? (await page.evaluate(() => document.body.innerText)).slice(0, 2000) : '';
  } catch {}
  console.error(`e2e recovery: FAILED at step "${step}": ${(e && e.message) || e}`);
  if (page) console.error(`  current URL: ${page.url()}\n  visible text:\n${text}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
