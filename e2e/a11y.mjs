// Varco browser test: every page and state, in Italian, checked with axe-core
// (WCAG 2.0/2.1 A and AA) at 1280 px and at 320 px (where nothing may
// overflow sideways, WCAG 1.4.10), plus the error states of the forms: the
// words, the error summary taking the focus, the fields tied to their errors.
//
// Three phases, because the test harness reads mail from its SMTP server in
// between (crates/varco/tests/it/browser.rs):
//
//   VARCO_E2E_PHASE=main    VARCO_E2E_BASE_URL=… VARCO_E2E_LOGIN=… VARCO_E2E_PASSWORD=…
//       VARCO_E2E_FORCED_LOGIN=… VARCO_E2E_RESET_LINK=… VARCO_E2E_ACTIVATION_LINK=…
//       VARCO_E2E_NEW_EMAIL=…  node a11y.mjs
//   VARCO_E2E_PHASE=confirm VARCO_E2E_BASE_URL=… VARCO_E2E_LINK=…  node a11y.mjs
//   VARCO_E2E_PHASE=undo    VARCO_E2E_BASE_URL=… VARCO_E2E_LINK=…  node a11y.mjs
//
// Optional: VARCO_E2E_SHOTS=DIR keeps a full-page screenshot of each state at
// each width there (for a person to look at; nothing checks them).
//
// Prints "e2e a11y: ok (N states)" and exits 0, or every violation found (rule,
// impact, state, width, nodes) and exits 1. Each phase is bounded by 150 s.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BUDGET_MS = 150_000;
const watchdog = setTimeout(() => {
  console.error(`e2e a11y: FAILED: overall timeout of ${BUDGET_MS / 1000} s exceeded at step "${step}"`);
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

let step = 'start';
let browser;
let page;
let code = 1;
const problems = [];
let states = 0;

/** Runs axe and the reflow check on the page as it is, at both widths. */
async function audit(name) {
  step = `audit "${name}"`;
  states += 1;
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    // Evaluated through the debugging protocol: the page's CSP does not apply.
    const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
    if (!loaded) await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      TAGS,
    );
    for (const v of result.violations) {
      const nodes = v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary || ''}`.slice(0, 300));
      problems.push(`[${name} @ ${size.width}px] ${v.id} (${v.impact}): ${v.help}\n      ${nodes.join('\n      ')}`);
    }
    if (process.env.VARCO_E2E_SHOTS) {
      mkdirSync(process.env.VARCO_E2E_SHOTS, { recursive: true });
      const file = `${String(states).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}-${size.width}.png`;
      await page.screenshot({ path: `${process.env.VARCO_E2E_SHOTS}/${file}`, fullPage: true });
    }
    if (size.width === 320) {
      const overflow = await page.evaluate(() => {
        const doc = document.documentElement;
        const wide = [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > doc.clientWidth + 1)
          .slice(0, 3)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${[...e.classList].join('.')}`);
        return { scroll: doc.scrollWidth, client: doc.clientWidth, wide };
      });
      if (overflow.scroll > overflow.client) {
        problems.push(
          `[${name} @ 320px] reflow: the page is ${overflow.scroll}px wide in a ${overflow.client}px window (${overflow.wide.join(', ')})`,
        );
      }
    }
  }
  await page.setViewportSize(WIDTHS[0]);
}

/** Opens a page and audits it; the status must be the expected one. */
async function visit(name, url, status = 200) {
  step = `open ${name}`;
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response) throw new Error(`no response for ${url}`);
  if (response.status() !== status) throw new Error(`${url} answered ${response.status()}, expected ${status}`);
  if ((await page.evaluate(() => document.documentElement.lang)) !== 'it') throw new Error(`${url} is not in Italian`);
  await audit(name);
}

/** Submits the form holding `field` and waits for the answer page. */
async function submit(field) {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click(`form:has([name=${field}]) button[type=submit]`),
  ]);
}

/** A refused form: the words are shown, the summary has the focus, the fields are tied to their errors. */
async function expectRefusal(name, words, invalidFields) {
  step = `refusal "${name}"`;
  for (const w of words) await page.getByText(w).first().waitFor();
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  if (focused !== 'error-summary') throw new Error(`${name}: the focus is on "${focused}", not the error summary`);
  for (const field of invalidFields) {
    const tied = await page.evaluate((f) => {
      const input = document.getElementById(f);
      if (!input || input.getAttribute('aria-invalid') !== 'true') return 'not aria-invalid';
      const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/);
      const error = document.getElementById(`${f}-error`);
      if (!ids.includes(`${f}-error`) || !error || !error.textContent.trim()) return 'no error text tied to it';
      return 'ok';
    }, field);
    if (tied !== 'ok') throw new Error(`${name}: field ${field}: ${tied}`);
  }
  for (const input of await page.locator('input[type=password]').all()) {
    if ((await input.inputValue()) !== '') throw new Error(`${name}: a password field came back filled`);
  }
  await audit(name);
}

/** Fills the public email-change request form (the page is open) with a PDF. */
async function fillRequest(newEmail) {
  step = 'fill the email-change request';
  await page.selectOption('#school', 'RMIC81200X');
  await page.fill('#student_first_name', 'Luca');
  await page.fill('#student_last_name', 'Bianchi');
  await page.selectOption('#school_order', 'primaria');
  await page.fill('#class_name', '3B');
  await page.fill('#building', 'Plesso Garibaldi');
  await page.fill('#requester_first_name', 'Mario');
  await page.fill('#requester_last_name', 'Rossi');
  await page.fill('#tax_code', 'RSSMRA80A01H501U');
  await page.fill('#new_email', newEmail);
  await page.fill('#new_email_confirm', newEmail);
  await page.fill('#phone', '+39 333 123 4567');
  await page.click('label[for=consent]');
  if (!(await page.isChecked('#consent'))) throw new Error('the consent label did not tick the box');
  await page.setInputFiles('#document', { name: 'carta.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
}

async function signIn(login, password) {
  step = `sign in as ${login}`;
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await submit('login');
}

let base;
try {
  const phase = env('VARCO_E2E_PHASE');
  base = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
  step = 'launch chromium';
  browser = await chromium.launch({
    executablePath: process.env.VARCO_E2E_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
  });
  const context = await browser.newContext({ locale: 'it-IT', viewport: WIDTHS[0] });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const scriptErrors = [];
  page.on('pageerror', (e) => scriptErrors.push(e.message));

  if (phase === 'main') {
    const login = env('VARCO_E2E_LOGIN');
    const password = env('VARCO_E2E_PASSWORD');

    // Signed out.
    await visit('login', `${base}/login`);
    step = 'show-password toggle';
    await page.getByRole('button', { name: 'Mostra la password' }).click();
    if ((await page.getAttribute('#password', 'type')) !== 'text') throw new Error('the toggle did not show the password');
    await page.getByRole('button', { name: 'Nascondi la password' }).click();
    if ((await page.getAttribute('#password', 'type')) !== 'password') throw new Error('the toggle did not hide the password');
    await submit('login');
    await expectRefusal('login, blank', ["Scrivi il codice utente, il nome utente o l'email.", 'Scrivi la password.'], ['login', 'password']);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'non è questa la password');
    await submit('login');
    await expectRefusal('login, wrong password', ['Codice utente (o email) o password non corretti'], []);
    if ((await page.inputValue('#login')) !== login) throw new Error('the login was not kept after a refusal');
    await visit('forgot', `${base}/password/forgot`);
    await submit('login');
    await expectRefusal('forgot, blank', ["Scrivi il codice utente, il nome utente o l'email."], ['login']);
    await page.fill('input[name=login]', 'nessuno-con-questo-nome');
    await submit('login');
    await page.getByText('Controlla la tua email').first().waitFor();
    await audit('forgot, sent');
    // The public email-change request: refusals, then filed, then its status.
    await visit('email-change request', `${base}/requests/email-change`);
    await submit('student_first_name');
    await expectRefusal('email-change request, blank', ["Scegli la scuola dall'elenco.", "Allega il documento d'identità."], ['school', 'student_first_name', 'document', 'consent']);
    await fillRequest('mario.rossi@example.it');
    await submit('student_first_name');
    await page.getByRole('heading', { name: 'Richiesta inviata' }).waitFor();
    await audit('email-change request, sent');
    const statusUrl = await page.getAttribute('a.varco-status-link', 'href');
    await visit('email-change request, status', statusUrl);
    await page.getByText('Ricevuta').first().waitFor();
    await visit('help', `${base}/help`);
    await visit('help, school not found', `${base}/help?school=XXXX00000X`);
    await visit('help, schools found by name', `${base}/help?school_name=roma`);
    await visit('help, no school by that name', `${base}/help?school_name=nessuna-scuola`);
    await visit('help, name too short', `${base}/help?school_name=r`);
    await visit('404', `${base}/non-esiste`, 404);
    await visit('setup, no valid link', `${base}/setup`, 400);
    await visit('reset link, invalid', `${base}/password/reset?token=non-valido`, 400);

    // A reset link: refusals, then done.
    await visit('reset', env('VARCO_E2E_RESET_LINK'));
    await page.fill('#new_password', 'una frase lunga per la prova');
    await page.fill('#new_password_confirm', 'una frase diversa per la prova');
    await submit('new_password');
    await expectRefusal('reset, mismatch', ['Le due password non coincidono.'], ['new_password_confirm']);
    await page.fill('#new_password', 'corta');
    await page.fill('#new_password_confirm', 'corta');
    await submit('new_password');
    await expectRefusal('reset, too short', ['La password è troppo corta'], ['new_password']);
    await page.fill('#new_password', 'ombrello tastiera girasole 91');
    await page.fill('#new_password_confirm', 'ombrello tastiera girasole 91');
    await submit('new_password');
    await page.getByText('Password salvata').first().waitFor();
    await audit('reset, done');

    // An activation link.
    await visit('activation', env('VARCO_E2E_ACTIVATION_LINK'));
    await page.getByText('Attiva il tuo account').first().waitFor();
    await page.fill('#new_password', 'lucertola campanile merenda 27');
    await page.fill('#new_password_confirm', 'lucertola campanile merenda 27');
    await submit('new_password');
    await page.getByRole('heading', { name: 'Account attivato' }).waitFor();
    await audit('activation, done');

    // Signed in.
    await signIn(login, password);
    await page.waitForURL(/\/account$/);
    await audit('account');
    await visit('sessions', `${base}/account/sessions`);
    await page.getByText('(ora italiana)').first().waitFor();
    await visit('password change', `${base}/password/change`);
    await page.fill('#current_password', 'non è quella attuale');
    await page.fill('#new_password', 'ombrello tastiera girasole 91');
    await page.fill('#new_password_confirm', 'ombrello tastiera girasole 91');
    await submit('new_password');
    await expectRefusal('change, wrong current password', ['La password attuale non è corretta.'], ['current_password']);
    await page.fill('#current_password', password);
    await page.fill('#new_password', 'passwordpassword');
    await page.fill('#new_password_confirm', 'passwordpassword');
    await submit('new_password');
    await expectRefusal('change, policy refusal', ['La password'], ['new_password']);
    await page.locator('.varco-advice').first().waitFor();
    await page.fill('#current_password', password);
    await page.fill('#new_password', 'ombrello tastiera girasole 91');
    await page.fill('#new_password_confirm', 'ombrello tastiera girasole 19');
    await submit('new_password');
    await expectRefusal('change, mismatch', ['Le due nuove password non coincidono.'], ['new_password_confirm']);
    await visit('email change', `${base}/account/email`);
    const newEmail = env('VARCO_E2E_NEW_EMAIL');
    await page.fill('#new_email', newEmail);
    await page.fill('#new_email_confirm', `x${newEmail}`);
    await page.fill('#current_password', password);
    await submit('new_email');
    await expectRefusal('email change, mismatch', ['I due indirizzi non coincidono.'], ['new_email_confirm']);
    await page.fill('#new_email_confirm', newEmail);
    await page.fill('#current_password', password);
    await submit('new_email');
    await page.getByText('Conferma il nuovo indirizzo').first().waitFor();
    await audit('email change, sent');
    await visit('logout', `${base}/logout`);
    await submit('csrf');
    await page.getByText('Hai chiuso la sessione.').first().waitFor();
    await audit('logged out');

    // A forced change.
    await signIn(env('VARCO_E2E_FORCED_LOGIN'), password);
    await page.waitForURL(/\/password\/change$/);
    await page.getByText('La segreteria ha chiesto di cambiare la password').first().waitFor();
    await audit('password change, forced');
    await page.fill('#current_password', password);
    await page.fill('#new_password', 'corta');
    await page.fill('#new_password_confirm', 'corta');
    await submit('new_password');
    await expectRefusal('forced change, too short', ['La password è troppo corta'], ['new_password']);
    await page.fill('#current_password', password);
    await page.fill('#new_password', 'scoiattolo lavagna pioggia 35');
    await page.fill('#new_password_confirm', 'scoiattolo lavagna pioggia 35');
    await submit('new_password');
    await page.getByText('Password cambiata').first().waitFor();
    await audit('password change, done');
  } else if (phase === 'confirm') {
    const link = env('VARCO_E2E_LINK');
    await visit('email confirm', link);
    await submit('token');
    await page.getByText('Indirizzo email cambiato').first().waitFor();
    await audit('email confirmed');
    await visit('email link, used', link, 400);
  } else if (phase === 'undo') {
    await visit('email undo', env('VARCO_E2E_LINK'));
    await submit('token');
    await page.getByText('Cambio annullato').first().waitFor();
    await audit('email undone');
  } else if (phase === 'desk') {
    // The school's desk: the queue, a request, refusals, a rejection.
    await signIn(env('VARCO_E2E_LOGIN'), env('VARCO_E2E_PASSWORD'));
    await page.waitForURL(/\/account$/);
    // The console: search, an account's page, a refused correction, the
    // disable confirmation (cancelled).
    await visit('desk', `${base}/desk`);
    step = 'desk search';
    await page.fill('#q', 'famiglia@example.it');
    await submit('q');
    await page.locator('#desk-results').waitFor();
    await audit('desk search results');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#desk-results a')]);
    await audit('desk account');
    await submit('reason');
    await expectRefusal('desk correction without a reason', ['Scrivi il motivo della correzione'], ['reason']);
    await page.fill('#tax_code', 'RSSMRA80A01H501X');
    await page.fill('#reason', 'Carta d\'identità vista allo sportello');
    await submit('reason');
    await expectRefusal('desk correction, bad tax code', ['Il codice fiscale non è valido'], ['tax_code']);
    step = 'desk disable';
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('form[action$="/disable"] button[type=submit]'),
    ]);
    await audit('desk disable confirmation');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a.btn-outline-secondary')]);
    await visit('desk requests', `${base}/desk/requests`);
    step = 'open a request';
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('tr.varco-request a')]);
    await audit('desk request');
    await submit('reason');
    await expectRefusal('desk reject, blank', ['Scrivi la motivazione'], ['reason']);
    await page.fill('#account', 'ZZZZZZZZZ');
    await submit('account');
    await expectRefusal('desk approve, unknown account', ['Nessun account attivo di questa scuola'], ['account']);
    await page.fill('#reason', 'Il documento allegato non è leggibile.');
    await submit('reason');
    await page.getByText('Respinta').first().waitFor();
    await audit('desk request, rejected');
    await visit('desk requests, all', `${base}/desk/requests?status=all`);
  } else if (phase === 'approve') {
    // A parent files a request with a PDF; the desk approves it for the
    // account; the confirmation link follows at the new address (the
    // harness reads it and runs the `confirm` phase).
    await visit('email-change request, again', `${base}/requests/email-change`);
    await fillRequest(env('VARCO_E2E_NEW_EMAIL'));
    await submit('student_first_name');
    await page.getByRole('heading', { name: 'Richiesta inviata' }).waitFor();
    await page.context().clearCookies();
    await signIn(env('VARCO_E2E_LOGIN'), env('VARCO_E2E_PASSWORD'));
    await page.waitForURL(/\/account$/);
    await visit('desk requests, a new one', `${base}/desk/requests`);
    step = 'open the new request';
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('tr.varco-request a')]);
    await page.fill('#account', env('VARCO_E2E_ACCOUNT'));
    await submit('account');
    await page.getByText('Accolta').first().waitFor();
    await audit('desk request, approved');
  } else {
    throw new Error(`unknown VARCO_E2E_PHASE ${phase}`);
  }
  step = 'page scripts';
  if (scriptErrors.length) throw new Error(`script errors: ${scriptErrors.join('; ')}`);
  if (problems.length) {
    console.error(`e2e a11y: FAILED: ${problems.length} problem(s) in ${states} states:\n  ${problems.join('\n  ')}`);
  } else {
    console.log(`e2e a11y: ok (${states} states)`);
    code = 0;
  }
} catch (e) {
  let text = '';
  try {
    text = page ? (await page.evaluate(() => document.body.innerText)).slice(0, 2000) : '';
  } catch {}
  console.error(`e2e a11y: FAILED at step "${step}": ${(e && e.message) || e}`);
  if (problems.length) console.error(`  problems so far:\n  ${problems.join('\n  ')}`);
  if (page) console.error(`  current URL: ${page.url()}\n  visible text:\n${text}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
