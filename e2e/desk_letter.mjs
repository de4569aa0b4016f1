// Varco browser test: at the desk of one school an operator checks the
// identity of a staff member of another school and prints a recovery
// letter; the person opens the letter's address (its QR code), types the
// code and sets a new password, then signs in with it. In Italian, with
// headless Chromium.
//
//   VARCO_E2E_BASE_URL=… VARCO_E2E_OPERATOR=… VARCO_E2E_OPERATOR_PASSWORD=…
//   VARCO_E2E_TAX_CODE=… VARCO_E2E_USER_CODE=… VARCO_E2E_EXPIRY=YYYY-MM-DD
//   VARCO_E2E_NEW_PASSWORD=… VARCO_E2E_SCREENSHOT=…  node desk_letter.mjs
//
// Prints "e2e desk letter: ok <code>" and exits 0, or the failing step and
// the page's text and exits 1. Bounded by 40 s.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const watchdog = setTimeout(() => {
  console.error('e2e desk letter: FAILED: overall timeout of 40 s exceeded');
  process.exit(1);
}, 40_000);
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
  const base = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
  const userCode = env('VARCO_E2E_USER_CODE');
  step = 'launch chromium';
  browser = await chromium.launch({
    executablePath: process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
  });
  const desk = await browser.newContext({ locale: 'it-IT' });
  page = await desk.newPage();
  page.setDefaultTimeout(15_000);

  step = 'the operator signs in and opens the desk';
  await page.goto(`${base}/login?next=/desk`);
  await page.fill('input[name=login]', env('VARCO_E2E_OPERATOR'));
  await page.fill('input[name=password]', env('VARCO_E2E_OPERATOR_PASSWORD'));
  await page.click('form:has(input[name=login]) button[type=submit]');
  await page.waitForURL(/\/desk$/);

  step = 'search the tax code and open the account of the other school';
  await page.fill('input[name=q]', env('VARCO_E2E_TAX_CODE'));
  await page.click('form[role=search] button[type=submit]');
  await page.click(`a[href="/desk/accounts/${userCode}"]`);
  await page.getByText("Verifica dell'identità e recupero").first().waitFor();

  step = 'record the identity check and print the letter';
  await page.selectOption('select[name=document_type]', 'cie');
  await page.fill('input[name=document_last4]', 'ab12');
  await page.fill('input[name=document_expiry]', env('VARCO_E2E_EXPIRY'));
  await page.fill('input[name=check_tax_code]', env('VARCO_E2E_TAX_CODE'));
  await page.click('button[name=step][value=letter]');
  await page.locator('#recovery-letter').waitFor();
  const letterCode = (await page.locator('#letter-code').innerText()).trim();
  const url = (await page.locator('#letter-url').innerText()).trim();
  if (!/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(letterCode)) throw new Error(`code ${letterCode}`);
  if (url !== `${base}/password/recover?user=${userCode}`) throw new Error(`letter URL ${url}`);
  if ((await page.locator('#recovery-letter svg').count()) !== 1) throw new Error('no QR code');

  step = 'on paper only the letter is printed';
  await page.emulateMedia({ media: 'print' });
  if (await page.locator('header.it-header-wrapper').isVisible()) throw new Error('the header is printed');
  if (await page.locator('#letter-handover').isVisible()) throw new Error('the operator note is printed');
  if (!(await page.locator('#letter-code').isVisible())) throw new Error('the code is not printed');
  const shot = env('VARCO_E2E_SCREENSHOT');
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });

  step = 'the person opens the letter address: user code filled in, code not';
  const person = await browser.newContext({ locale: 'it-IT' });
  page = await person.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  if ((await page.inputValue('input[name=user_code]')) !== userCode) throw new Error('user code not filled in');
  if ((await page.inputValue('input[name=recovery_code]')) !== '') throw new Error('the code is in the page');

  step = 'type the code and the new password';
  const fresh = env('VARCO_E2E_NEW_PASSWORD');
  await page.fill('input[name=recovery_code]', letterCode.toLowerCase());
  await page.fill('input[name=new_password]', fresh);
  await page.fill('input[name=new_password_confirm]', fresh);
  await page.click('form:has(input[name=recovery_code]) button[type=submit]');
  await page.getByText('Password salvata').first().waitFor();

  step = 'the new password signs in';
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', userCode);
  await page.fill('input[name=password]', fresh);
  await page.click('form:has(input[name=login]) button[type=submit]');
  await page.waitForURL(/\/account$/);

  console.log(`e2e desk letter: ok ${letterCode}`);
  code = 0;
} catch (e) {
  let text = '';
  try {
    text = page ? (await page.evaluate(() => document.body.innerText)).slice(0, 2000) : '';
  } catch {}
  console.error(`e2e desk letter: FAILED at step "${step}": ${(e && e.message) || e}`);
  if (page) console.error(`  current URL: ${page.url()}\n  visible text:\n${text}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
