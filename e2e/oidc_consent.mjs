// Varco's consent page for a THIRD-PARTY application, in Italian, in a
// real browser, with a relying party built on the certified `openid-client`:
//
//   VARCO_E2E_BASE_URL=… VARCO_E2E_CLIENT_ID=… VARCO_E2E_CLIENT_SECRET=…
//   VARCO_E2E_CLIENT_NAME="Biblioteca digitale" VARCO_E2E_REDIRECT_URI=http://127.0.0.1:PORT/callback
//   VARCO_E2E_LOGIN=… VARCO_E2E_PASSWORD=… VARCO_E2E_ARTIFACTS=e2e/artifacts  node oidc_consent.mjs
//
// The client must be third-party (first_party false); its back-channel
// logout URI, when registered, is http://127.0.0.1:PORT/backchannel.
//
// Sign in on the form → the consent page: its Italian title and the list of
// the data shared, axe-core (WCAG 2.1 A/AA) at 1280 and 390 px, a 390 px
// screenshot → "Consenti" → back at the client with a code (state, iss) →
// authorizationCodeGrant → /account lists the application under
// "Applicazioni collegate" (axe, 390 px screenshot) → its revoke button →
// the application is gone, its refresh token is refused (invalid_grant), a
// back-channel logout notice arrives (verified with jose) → a new request
// asks consent again; "Non consentire" → back with access_denied.
// Prints a JSON summary on stdout; exits 1 on the first failed check.
// Bounded by 120 s.

import {
  Run,
  authorizationRequest,
  axe,
  check,
  client,
  discover,
  env,
  exchange,
  expectOAuthError,
  launch,
  screenshot,
  signInOnForm,
  startRp,
  verifyLogoutToken,
} from './rp.mjs';

const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const run = new Run('e2e oidc consent', 120_000);
let page;
let browserProblems = [];
try {
  const base = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
  const clientId = env('VARCO_E2E_CLIENT_ID');
  const secret = env('VARCO_E2E_CLIENT_SECRET');
  const clientName = env('VARCO_E2E_CLIENT_NAME');
  const redirectUri = env('VARCO_E2E_REDIRECT_URI');
  const login = env('VARCO_E2E_LOGIN');
  const password = env('VARCO_E2E_PASSWORD');
  const artifacts = env('VARCO_E2E_ARTIFACTS');
  const scope = process.env.VARCO_E2E_SCOPE || 'openid profile email school fiscal_number';
  const expectNotice = process.env.VARCO_E2E_EXPECT_BACKCHANNEL === '1';
  const port = Number(new URL(redirectUri).port);

  const rp = await run.step('start the client server', () => startRp(port));
  run.cleanups.push(() => rp.close());
  const config = await run.step('discovery', () => discover(base, clientId, secret));
  const launched = await run.step('launch chromium', () => launch());
  page = launched.page;
  browserProblems = launched.problems;
  run.cleanups.push(() => launched.browser.close());
  // The policy each Varco page came with (to tell a blocked redirect apart).
  const policies = {};
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (url.origin === base && r.request().resourceType() === 'document') {
      policies[url.pathname] = r.headers()['content-security-policy'];
    }
  });
  const violations = [];

  const request = await run.step('authorization request', () => authorizationRequest(config, redirectUri, scope));
  await run.step('open it: Varco asks to sign in', async () => {
    await page.goto(request.url.href, { waitUntil: 'load' });
    check(new URL(page.url()).pathname === '/login', `expected /login, got ${page.url()}`);
  });
  const consent = await run.step('sign in: the consent page, in Italian', async () => {
    await signInOnForm(page, login, password);
    await page.waitForURL((u) => u.pathname === '/oauth2/authorize', { waitUntil: 'load' });
    const title = `Consenti l'accesso a «${clientName}»?`;
    await page.locator('h1', { hasText: title }).first().waitFor({ state: 'visible' });
    const lang = await page.evaluate(() => document.documentElement.lang);
    check(lang === 'it', `lang=${lang}`);
    const read = (selector) => page.locator(selector).allInnerTexts();
    return {
      title: (await read('h1'))[0],
      document_title: await page.title(),
      intro: (await read('main h1 + p'))[0],
      heading: (await read('main h2'))[0],
      items: (await read('#consent-scopes li')).map((s) => s.trim()),
      buttons: (await read('form[action="/oauth2/consent"] button')).map((s) => s.trim()),
      content_security_policy: policies['/oauth2/authorize'],
    };
  });
  run.summary.consent = consent;
  await run.step('the consent page lists the data shared', async () => {
    const expected = [
      'un identificativo del tuo account, che non rivela il codice utente né il codice fiscale',
      'nome e cognome',
      "l'indirizzo email e se è stato verificato",
      'la scuola, il tipo di account e i ruoli',
      'il codice fiscale',
    ];
    for (const item of expected) check(consent.items.includes(item), `the list lacks "${item}"`, consent.items);
    check(consent.items.length === expected.length, 'the list shows more than the scopes asked', consent.items);
    check(consent.heading === "L'applicazione riceverà:", `heading ${consent.heading}`);
    check(consent.intro.includes(`«${clientName}»`), 'the intro does not name the application');
    check(consent.buttons.includes('Consenti') && consent.buttons.includes('Non consentire'), 'buttons', consent.buttons);
  });
  await run.step('axe on the consent page (1280 and 390 px)', async () => {
    violations.push(...(await axe(page, 'consent', [WIDE, PHONE])));
  });
  const consentShot = `${artifacts}/oidc-consent-390.png`;
  await run.step('screenshot of the consent page at 390 px', () => screenshot(page, consentShot, PHONE.width));
  await page.setViewportSize(WIDE);

  const arrived = await run.step('"Consenti": back at the client with a code', async () => {
    await page.getByRole('button', { name: 'Consenti', exact: true }).click();
    const arrival = await rp.arrival('/callback', 0).catch((e) => {
      e.detail = { browser: browserProblems.slice(-10), policies };
      throw e;
    });
    await page.waitForURL((u) => u.href.startsWith(redirectUri), { waitUntil: 'load' });
    return arrival;
  });
  const params = Object.fromEntries(new URL(arrived.url).searchParams);
  await run.step('the callback carries code, state and iss', async () => {
    check(params.state === request.state, 'state');
    check(params.iss === base, 'iss');
    check(typeof params.code === 'string' && params.code.length > 20, 'code');
  });
  const tokens = await run.step('authorizationCodeGrant', () => exchange(config, arrived.url, request));
  const idClaims = tokens.claims();
  run.summary.id_token = idClaims;
  run.summary.userinfo = await run.step('fetchUserInfo', () => client.fetchUserInfo(config, tokens.access_token, idClaims.sub));

  const account = await run.step('/account lists the application', async () => {
    await page.goto(`${base}/account`, { waitUntil: 'load' });
    await page.locator('#applications-heading', { hasText: 'Applicazioni collegate' }).waitFor({ state: 'visible' });
    const items = (await page.locator('#applications li').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
    check(items.some((s) => s.includes(clientName)), `${clientName} not listed`, items);
    return { items };
  });
  run.summary.account = account;
  await run.step('axe on /account with the application (1280 and 390 px)', async () => {
    violations.push(...(await axe(page, 'account with an application', [WIDE, PHONE])));
  });
  const accountShot = `${artifacts}/oidc-account-390.png`;
  await run.step('screenshot of /account at 390 px', () => screenshot(page, accountShot, PHONE.width));
  await page.setViewportSize(WIDE);

  await run.step('the revoke button removes the application', async () => {
    const button = page.getByRole('button', { name: `Revoca l'accesso a ${clientName}` });
    await Promise.all([page.waitForURL((u) => u.searchParams.get('revoked') === '1', { waitUntil: 'load' }), button.click()]);
    await page.getByText("L'accesso dell'applicazione è stato revocato.").first().waitFor({ state: 'visible' });
    await page.getByText('Non sei entrato in nessuna applicazione con questo account.').first().waitFor({ state: 'visible' });
    check((await page.locator('#applications').count()) === 0, 'the application list is still shown');
  });
  await run.step('axe on /account after the revocation', async () => {
    violations.push(...(await axe(page, 'account, application revoked', [WIDE, PHONE])));
  });
  run.summary.after_revoke = await run.step('the revoked refresh token: invalid_grant', () =>
    expectOAuthError(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant', 'refresh after the revocation'),
  );
  if (expectNotice) {
    run.summary.notice = await run.step('back-channel logout notice, verified with jose', async () => {
      await rp.noticesAtLeast(1, 10_000);
      return verifyLogoutToken(config, rp.notices[0].token, idClaims.sid);
    });
  }

  const again = await authorizationRequest(config, redirectUri, scope);
  await run.step('a new request asks consent again', async () => {
    await page.goto(again.url.href, { waitUntil: 'load' });
    check(new URL(page.url()).pathname === '/oauth2/authorize', `expected the consent page, got ${page.url()}`);
    await page.locator('h1', { hasText: 'Consenti l' }).first().waitFor({ state: 'visible' });
  });
  run.summary.declined = await run.step('"Non consentire": back with access_denied', async () => {
    await page.getByRole('button', { name: 'Non consentire' }).click();
    const arrival = await rp.arrival('/callback', 1);
    const p = Object.fromEntries(new URL(arrival.url).searchParams);
    check(!('code' in p), 'a code after declining');
    check(p.state === again.state && p.iss === base, 'state or iss');
    return expectOAuthError(exchange(config, arrival.url, again), 'access_denied', 'declined consent');
  });

  run.summary.screenshots = [consentShot, accountShot];
  run.summary.axe = { tags: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], violations };
  run.summary.browser_problems = browserProblems;
  await run.step('no axe violation', async () => {
    check(violations.length === 0, `${violations.length} axe violation(s)`, violations);
  });
} catch (e) {
  run.fail(e);
  if (run.failure && browserProblems.length) run.failure.browser = browserProblems.slice(-10);
}
await run.finish(page);
