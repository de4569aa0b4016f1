// Varco as OpenID Connect provider, driven by a relying party built on the
// OpenID-certified npm `openid-client` (6.8.9) and a real browser:
//
//   VARCO_E2E_BASE_URL=http://127.0.0.1:41234 VARCO_E2E_CLIENT_ID=… VARCO_E2E_CLIENT_SECRET=…
//   VARCO_E2E_REDIRECT_URI=http://127.0.0.1:41235/callback
//   VARCO_E2E_POST_LOGOUT_URI=http://127.0.0.1:41235/signed-out
//   VARCO_E2E_LOGIN=… VARCO_E2E_PASSWORD=…  node oidc.mjs
//
// The client must be first-party, registered with those two URIs and the
// back-channel logout URI http://127.0.0.1:<same port>/backchannel; this
// script serves all three on that port.
//
// Three sign-ins of one Varco session, each its own grant:
//  1. discovery; authorization URL with PKCE S256, state and nonce; Varco's
//     Italian sign-in form in Chromium; the redirect to the callback;
//     authorizationCodeGrant (state, iss, nonce, ID-token signature);
//     fetchUserInfo; tokenIntrospection by the client itself;
//     refreshTokenGrant (rotation, no nonce, same auth_time), then the OLD
//     refresh token again: invalid_grant, and the whole grant is revoked
//     (the new one fails too; a back-channel notice comes);
//  2. no form this time (the session exists); tokenRevocation of the access
//     token alone (introspection inactive, userinfo invalid_token, refresh
//     still works), then of the refresh token (the grant ends; a notice);
//  3. RP-initiated logout: buildEndSessionUrl with id_token_hint, the
//     registered post_logout_redirect_uri and state, followed in the browser
//     back to the client; the back-channel logout token verified with jose
//     (iss, aud, sid = the ID token's, events, no nonce); the grant is over
//     and Varco's session too.
// Prints a JSON summary on stdout; exits 1 on the first failed check.
// Bounded by 120 s.

import {
  Run,
  authorizationRequest,
  check,
  claimsOf,
  client,
  discover,
  env,
  exchange,
  expectOAuthError,
  launch,
  signInOnForm,
  startRp,
  verifyLogoutToken,
} from './rp.mjs';

const run = new Run('e2e oidc', 120_000);
let page;
let browserProblems = [];
try {
  const base = env('VARCO_E2E_BASE_URL').replace(/\/+$/, '');
  const clientId = env('VARCO_E2E_CLIENT_ID');
  const secret = env('VARCO_E2E_CLIENT_SECRET');
  const redirectUri = env('VARCO_E2E_REDIRECT_URI');
  const postLogoutUri = env('VARCO_E2E_POST_LOGOUT_URI');
  const login = env('VARCO_E2E_LOGIN');
  const password = env('VARCO_E2E_PASSWORD');
  const scope = process.env.VARCO_E2E_SCOPE || 'openid profile email school fiscal_number';
  const port = Number(new URL(redirectUri).port);

  const rp = await run.step('start the client server', () => startRp(port));
  run.cleanups.push(() => rp.close());
  const config = await run.step('discovery', () => discover(base, clientId, secret));
  const meta = config.serverMetadata();
  await run.step('check the discovery document', async () => {
    check(meta.issuer === base, `issuer ${meta.issuer} is not ${base}`);
    check(meta.code_challenge_methods_supported?.includes('S256'), 'S256 not advertised');
    check(!meta.code_challenge_methods_supported?.includes('plain'), 'plain PKCE advertised');
    check(meta.authorization_response_iss_parameter_supported === true, 'RFC 9207 iss not advertised');
    check(meta.backchannel_logout_supported === true, 'back-channel logout not advertised');
    check(meta.backchannel_logout_session_supported === true, 'back-channel logout sid not advertised');
    check(typeof meta.end_session_endpoint === 'string', 'no end_session_endpoint');
    check(meta.id_token_signing_alg_values_supported?.includes('RS256'), 'RS256 not advertised');
  });
  run.summary.discovery = {
    issuer: meta.issuer,
    end_session_endpoint: meta.end_session_endpoint,
    introspection_endpoint: meta.introspection_endpoint,
    revocation_endpoint: meta.revocation_endpoint,
  };

  const launched = await run.step('launch chromium', () => launch());
  page = launched.page;
  browserProblems = launched.problems;
  run.cleanups.push(() => launched.browser.close());

  // ---- 1. The first sign-in: form, code, userinfo, introspection, refresh, reuse.
  const first = await run.step('authorization request', () => authorizationRequest(config, redirectUri, scope));
  run.summary.authorization_url = first.url.href;
  await run.step('open the authorization URL: Varco asks to sign in', async () => {
    await page.goto(first.url.href, { waitUntil: 'load' });
    const at = new URL(page.url());
    check(at.origin === base && at.pathname === '/login', `expected Varco's /login, got ${page.url()}`);
  });
  const arrived = await run.step('sign in on the Italian form and come back to the client', async () => {
    await signInOnForm(page, login, password);
    const arrival = await rp.arrival('/callback', 0).catch((e) => {
      e.detail = { browser: browserProblems.slice(-10) };
      throw e;
    });
    await page.waitForURL((u) => u.href.startsWith(redirectUri), { waitUntil: 'load' });
    return arrival;
  });
  const callbackParams = Object.fromEntries(new URL(arrived.url).searchParams);
  run.summary.callback = { ...callbackParams, code: callbackParams.code ? '(present)' : undefined };
  await run.step('the callback carries code, state and iss', async () => {
    check(callbackParams.state === first.state, 'state not returned as sent');
    check(callbackParams.iss === base, `iss ${callbackParams.iss} is not ${base}`);
    check(typeof callbackParams.code === 'string' && callbackParams.code.length > 20, 'no code');
  });
  const tokens1 = await run.step('authorizationCodeGrant', () => exchange(config, arrived.url, first));
  const id1 = tokens1.claims();
  run.summary.id_token = { header: JSON.parse(Buffer.from(tokens1.id_token.split('.')[0], 'base64url')), claims: id1 };
  run.summary.token_response = {
    token_type: tokens1.token_type,
    expires_in: tokens1.expires_in,
    scope: tokens1.scope,
    refresh_token: typeof tokens1.refresh_token === 'string',
  };
  await run.step('check the ID token', async () => {
    check(id1.iss === base, 'iss');
    check(id1.aud === clientId || (Array.isArray(id1.aud) && id1.aud.includes(clientId)), 'aud');
    check(id1.nonce === first.nonce, 'nonce not echoed');
    check(typeof id1.sid === 'string' && id1.sid.length > 0, 'no sid');
    check(typeof id1.auth_time === 'number', 'no auth_time');
    check(JSON.stringify(id1.amr) === '["pwd"]', `amr ${JSON.stringify(id1.amr)}`);
    check(typeof id1.at_hash === 'string', 'no at_hash');
    check(Object.values(id1).every((v) => v !== null), 'a null claim');
    check(tokens1.token_type.toLowerCase() === 'bearer', 'token_type');
    check(typeof tokens1.refresh_token === 'string', 'no refresh token');
  });
  const info1 = await run.step('fetchUserInfo', () => client.fetchUserInfo(config, tokens1.access_token, id1.sub));
  run.summary.userinfo = info1;
  const intro1 = await run.step('tokenIntrospection by the client itself', () =>
    client.tokenIntrospection(config, tokens1.access_token),
  );
  run.summary.introspection = intro1;
  await run.step('check the introspection', async () => {
    check(intro1.active === true, 'not active');
    check(intro1.client_id === clientId, 'client_id');
    check(intro1.sub === id1.sub, 'sub');
    check(typeof intro1.exp === 'number' && typeof intro1.scope === 'string', 'exp, scope');
  });
  const tokens2 = await run.step('refreshTokenGrant', () => client.refreshTokenGrant(config, tokens1.refresh_token));
  const id2 = tokens2.claims();
  run.summary.refreshed_id_token = id2;
  await run.step('check the rotation and the refreshed ID token', async () => {
    check(tokens2.refresh_token && tokens2.refresh_token !== tokens1.refresh_token, 'the refresh token did not rotate');
    check(tokens2.access_token !== tokens1.access_token, 'same access token');
    check(id2, 'no ID token on refresh');
    check(!('nonce' in id2), 'nonce in the refreshed ID token (Core §12.2)');
    check(id2.sub === id1.sub && id2.sid === id1.sid, 'sub or sid changed');
    check(id2.auth_time === id1.auth_time, 'auth_time changed on refresh');
  });
  await run.step('userinfo with the new access token', () => client.fetchUserInfo(config, tokens2.access_token, id1.sub));
  run.summary.reuse = await run.step('the OLD refresh token again: invalid_grant', () =>
    expectOAuthError(client.refreshTokenGrant(config, tokens1.refresh_token), 'invalid_grant', 'reused refresh token'),
  );
  await run.step('the reuse revoked the whole grant', async () => {
    await expectOAuthError(client.refreshTokenGrant(config, tokens2.refresh_token), 'invalid_grant', 'the newest refresh token after a reuse');
    await expectOAuthError(client.fetchUserInfo(config, tokens2.access_token, id1.sub), 'invalid_token', 'userinfo after a reuse');
  });
  const notices = [];
  const takeNotice = async (n, when) => {
    await rp.noticesAtLeast(n, 10_000);
    const notice = rp.notices[n - 1];
    const verified = await verifyLogoutToken(config, notice.token, id1.sid);
    check(verified.payload.sub === undefined || verified.payload.sub === id1.sub, 'logout token sub is not the ID token sub');
    check(notice.contentType.startsWith('application/x-www-form-urlencoded'), `content type ${notice.contentType}`);
    notices.push({ after: when, ...verified });
  };
  await run.step('back-channel notice after the reuse, verified with jose', () => takeNotice(1, 'refresh token reuse'));

  // ---- 2. A second sign-in of the same session: revocation.
  const second = await authorizationRequest(config, redirectUri, scope);
  const arrived2 = await run.step('second authorization: no form, straight back', async () => {
    await page.goto(second.url.href, { waitUntil: 'load' });
    return rp.arrival('/callback', 1);
  });
  const tokens3 = await run.step('authorizationCodeGrant (2)', () => exchange(config, arrived2.url, second));
  const id3 = tokens3.claims();
  await run.step('same session: same sid and auth_time', async () => {
    check(id3.sid === id1.sid, 'sid differs within one session');
    check(id3.auth_time === id1.auth_time, 'auth_time differs without a new sign-in');
  });
  await run.step('tokenRevocation of the access token', () => client.tokenRevocation(config, tokens3.access_token));
  await run.step('the revoked access token is dead, the grant lives', async () => {
    const intro = await client.tokenIntrospection(config, tokens3.access_token);
    check(intro.active === false, 'introspection still active after revocation', intro);
    check(Object.keys(intro).length === 1, 'an inactive token reveals more than active', intro);
    await expectOAuthError(client.fetchUserInfo(config, tokens3.access_token, id1.sub), 'invalid_token', 'userinfo with a revoked token');
  });
  const tokens4 = await run.step('refresh still works after revoking the access token', () =>
    client.refreshTokenGrant(config, tokens3.refresh_token),
  );
  await run.step('tokenRevocation of the refresh token', () => client.tokenRevocation(config, tokens4.refresh_token));
  await run.step('the revoked refresh token ended the grant', async () => {
    await expectOAuthError(client.refreshTokenGrant(config, tokens4.refresh_token), 'invalid_grant', 'a revoked refresh token');
    const intro = await client.tokenIntrospection(config, tokens4.access_token);
    check(intro.active === false, "the grant's access token survived the revocation", intro);
  });
  await run.step('back-channel notice after the revocation', () => takeNotice(2, 'refresh token revocation'));

  // ---- 3. A third sign-in, then RP-initiated logout.
  const third = await authorizationRequest(config, redirectUri, scope);
  const arrived3 = await run.step('third authorization', async () => {
    await page.goto(third.url.href, { waitUntil: 'load' });
    return rp.arrival('/callback', 2);
  });
  const tokens5 = await run.step('authorizationCodeGrant (3)', () => exchange(config, arrived3.url, third));
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens5.id_token,
    post_logout_redirect_uri: postLogoutUri,
    state: logoutState,
  });
  const signedOut = await run.step('follow buildEndSessionUrl in the browser', async () => {
    await page.goto(endSession.href, { waitUntil: 'load' });
    const arrival = await rp.arrival('/signed-out', 0);
    await page.waitForURL((u) => u.href.startsWith(postLogoutUri), { waitUntil: 'load' });
    return arrival;
  });
  run.summary.post_logout = Object.fromEntries(new URL(signedOut.url).searchParams);
  await run.step('back at the post-logout URI with state', async () => {
    const url = new URL(signedOut.url);
    check(`${url.origin}${url.pathname}` === postLogoutUri, `arrived at ${signedOut.url}`);
    check(url.searchParams.get('state') === logoutState, 'state not returned');
  });
  await run.step('back-channel logout token after the logout, verified with jose', () => takeNotice(3, 'end session'));
  await run.step('the logout ended the grant and the Varco session', async () => {
    await expectOAuthError(client.refreshTokenGrant(config, tokens5.refresh_token), 'invalid_grant', 'refresh after logout');
    await page.goto(`${base}/account`, { waitUntil: 'load' });
    check(new URL(page.url()).pathname === '/login', `after logout /account shows ${page.url()}`);
  });
  // Give a duplicate notice a moment to show up, then count.
  await new Promise((r) => setTimeout(r, 500));
  run.summary.notices = notices;
  run.summary.notices_received = rp.notices.length;
  run.summary.browser_problems = browserProblems;
} catch (e) {
  run.fail(e);
  if (run.failure && browserProblems.length) run.failure.browser = browserProblems.slice(-10);
}
await run.finish(page);
