// Shared pieces of the OpenID Connect browser tests (oidc.mjs,
// oidc_consent.mjs): a relying party built on the certified npm
// `openid-client`, its small HTTP server on loopback (redirect URI,
// post-logout URI, back-channel logout receiver), the project's Chromium,
// axe-core, and a step runner that ends in a JSON summary on stdout.

import { createServer } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

export { client };

/** A required environment variable. */
export function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`environment variable ${name} must be set`);
  return v;
}

/**
 * The steps of a run and their outcome. `step(name, fn)` runs one; the
 * first failure stops the run. `finish()` prints the JSON summary (on
 * stdout, alone) and exits 0 when every step passed, 1 otherwise.
 */
export class Run {
  constructor(name, budgetMs) {
    this.name = name;
    this.startedAt = Date.now();
    this.steps = [];
    this.summary = {};
    this.current = 'start';
    this.cleanups = [];
    const watchdog = setTimeout(() => {
      this.fail(new Error(`overall timeout of ${budgetMs / 1000} s exceeded`));
      this.finish();
    }, budgetMs);
    watchdog.unref();
  }

  async step(name, fn) {
    this.current = name;
    const t0 = Date.now();
    const value = await fn();
    this.steps.push({ step: name, ms: Date.now() - t0 });
    return value;
  }

  fail(error) {
    this.failure = {
      step: this.current,
      error: (error && error.message) || String(error),
      ...(error && error.detail !== undefined ? { detail: error.detail } : {}),
    };
  }

  async finish(page) {
    if (this.failure && page) {
      this.failure.url = page.url();
      this.failure.text = await Promise.race([
        page.evaluate(() => (document.body ? document.body.innerText : '')).catch((e) => `(unavailable: ${e.message})`),
        new Promise((r) => setTimeout(() => r('(no answer in 2 s)'), 2_000).unref()),
      ]);
      this.failure.text = String(this.failure.text).slice(0, 1500);
    }
    for (const cleanup of this.cleanups.reverse()) {
      await Promise.race([
        Promise.resolve().then(cleanup).catch(() => {}),
        new Promise((r) => setTimeout(r, 3_000).unref()),
      ]);
    }
    const ok = !this.failure;
    const out = { script: this.name, ok, ms: Date.now() - this.startedAt, steps: this.steps, ...this.summary };
    if (!ok) out.failure = this.failure;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (!ok) console.error(`${this.name}: FAILED at step "${this.failure.step}": ${this.failure.error}`);
    process.exit(ok ? 0 : 1);
  }
}

/** Throws unless `cond`; `detail` goes into the summary. */
export function check(cond, message, detail) {
  if (!cond) {
    const e = new Error(message);
    if (detail !== undefined) e.detail = detail;
    throw e;
  }
}

/**
 * The relying party's own HTTP server on 127.0.0.1:`port`: `/callback`
 * and `/signed-out` record the URL the browser arrived with; `/backchannel`
 * records each `logout_token` POSTed by the provider.
 */
export async function startRp(port) {
  const arrivals = []; // { path, url, at }
  const notices = []; // { token, at, contentType }
  const waiters = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    if (req.method === 'POST' && url.pathname === '/backchannel') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        notices.push({ token: form.get('logout_token'), at: Date.now(), contentType: req.headers['content-type'] || '' });
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end();
        wake();
      });
      return;
    }
    if (req.method === 'GET' && (url.pathname === '/callback' || url.pathname === '/signed-out')) {
      arrivals.push({ path: url.pathname, url: url.href, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      const words = url.pathname === '/callback' ? 'Ritorno all&#39;applicazione ricevuto' : 'Uscita completata';
      res.end(`<!doctype html><html lang="it"><head><meta charset="utf-8"><title>Applicazione di prova</title></head><body><main><h1>${words}</h1></main></body></html>`);
      wake();
      return;
    }
    res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404);
    res.end();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  /** Waits until `pick()` returns something, or fails after `ms`. */
  const until = async (pick, what, ms = 15_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = pick();
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: nothing arrived in ${ms / 1000} s`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, Math.min(left, 250)).unref();
      });
    }
  };
  return {
    arrivals,
    notices,
    /** The next arrival at `path` after the `seen` first ones. */
    arrival: (path, seen, ms) => until(() => arrivals.filter((a) => a.path === path)[seen], `an arrival at ${path}`, ms),
    /** Waits until `count` notices have arrived. */
    noticesAtLeast: (count, ms) => until(() => notices.length >= count && notices.slice(0, count), `back-channel notice #${count}`, ms),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Chromium as the project runs it, in Italian. */
export async function launch() {
  const browser = await chromium.launch({
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
    timeout: 20_000,
  });
  const context = await browser.newContext({ locale: 'it-IT', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  // A navigation blocked by a policy (CSP form-action) shows up here.
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text().slice(0, 400)}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message.slice(0, 400)}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url().slice(0, 200)}`);
  });
  page.on('requestfailed', (r) => {
    const error = r.failure()?.errorText;
    // The script reads the code (or error) from the callback URL and moves
    // on, which may abort the load of this relying party's own page: not a
    // problem of Varco's. A policy violation is net::ERR_BLOCKED_BY_CSP.
    if (error === 'net::ERR_ABORTED' && new URL(r.url()).pathname === '/callback') return;
    problems.push(`request failed: ${r.url().slice(0, 200)} (${error})`);
  });
  return { browser, page, problems };
}

/** Discovery against Varco over plain http on loopback. */
export async function discover(base, clientId, secret) {
  return client.discovery(new URL(base), clientId, { client_secret: secret }, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
}

/** A fresh authorization request: PKCE S256, state and nonce. */
export async function authorizationRequest(config, redirectUri, scope) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, verifier, state, nonce };
}

/** The code grant for an arrival at the callback, with every check openid-client has. */
export async function exchange(config, arrivalUrl, request) {
  return client.authorizationCodeGrant(config, new URL(arrivalUrl), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}

/** The OAuth error code a failed openid-client call carried. */
export function oauthError(e) {
  if (!e) return undefined;
  if (typeof e.error === 'string') return e.error;
  // A WWW-Authenticate challenge (userinfo with a dead token).
  if (Array.isArray(e.cause)) {
    const challenge = e.cause.find((c) => c && c.parameters && c.parameters.error);
    if (challenge) return challenge.parameters.error;
  }
  if (e.cause && typeof e.cause.error === 'string') return e.cause.error;
  return undefined;
}

/** Expects `promise` to fail with the OAuth error `code`; returns what it said. */
export async function expectOAuthError(promise, code, what) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    const got = oauthError(e);
    check(got === code, `${what}: expected the error ${code}, got ${got ?? e.message}`, {
      name: e.name,
      code: e.code,
      message: e.message,
      error: e.error,
      error_description: e.error_description,
      status: e.status,
    });
    return { error: got, error_description: e.error_description, status: e.status };
  }
  throw Object.assign(new Error(`${what}: expected ${code}, but it succeeded`), { detail: result });
}

/**
 * Verifies a back-channel logout token with jose against the provider's
 * JWKS (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6) and returns its
 * header and claims.
 */
export async function verifyLogoutToken(config, token, expectedSid) {
  const meta = config.serverMetadata();
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const header = decodeProtectedHeader(token);
  const { payload } = await jwtVerify(token, jwks, {
    issuer: meta.issuer,
    audience: config.clientMetadata().client_id,
    algorithms: ['RS256', 'ES256'],
    typ: 'logout+jwt',
    requiredClaims: ['iss', 'aud', 'iat', 'exp', 'jti', 'events'],
  });
  const events = payload.events;
  check(
    events && typeof events === 'object' && !Array.isArray(events),
    'logout token: "events" must be a JSON object',
    payload,
  );
  const event = events['http://schemas.openid.net/event/backchannel-logout'];
  check(event && typeof event === 'object' && Object.keys(event).length === 0, 'logout token: the back-channel logout event member must be {}', payload);
  check(!('nonce' in payload), 'logout token: must not hold a nonce', payload);
  check(!('event' in payload), 'logout token: no "event" claim (the name is "events")', payload);
  check(payload.sid === expectedSid, `logout token: sid ${payload.sid} is not the ID token's ${expectedSid}`, payload);
  return { header, payload };
}

const require = createRequire(import.meta.url);
let axeSource;
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe-core (WCAG 2.1 A and AA) on the page as it is, at each width; returns violations as text. */
export async function axe(page, name, widths) {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const problems = [];
  for (const size of widths) {
    await page.setViewportSize(size);
    // Evaluated through the debugging protocol: the page's CSP does not apply.
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
    const result = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      AXE_TAGS,
    );
    for (const v of result.violations) {
      const nodes = v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary || ''}`.slice(0, 300));
      problems.push(`[${name} @ ${size.width}px] ${v.id} (${v.impact}): ${v.help} — ${nodes.join(' | ')}`);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) problems.push(`[${name} @ ${size.width}px] reflow: ${overflow}px of sideways scrolling`);
  }
  return problems;
}

/** A full-page screenshot at `width` px. */
export async function screenshot(page, path, width) {
  mkdirSync(dirname(path), { recursive: true });
  await page.setViewportSize({ width, height: 844 });
  await page.screenshot({ path, fullPage: true });
}

/** Signs in on Varco's Italian form (the page must be showing it). */
export async function signInOnForm(page, login, password) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  check(lang === 'it', `the sign-in page is not in Italian (lang=${JSON.stringify(lang)})`);
  await page.locator('h1', { hasText: 'Accedi' }).first().waitFor({ state: 'visible' });
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await page.click('form:has(input[name=login]) button[type=submit]');
}

/** The claims of a JWT, read without verification (for the summary). */
export function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}
