// An upstream OpenID provider standing in for a SPID/CIE gateway in static
// mode: npm `oidc-provider` on 127.0.0.1, one confidential client (Varco),
// PKCE required, and a scripted login instead of a login form.
//
// Environment: PORT (listen port), REDIRECT_URI (Varco's callback),
// CLIENT_ID, CLIENT_SECRET. The test chooses who signs in next with
// GET /__test/next?sub=...&fiscal=...&acr=... (fiscal without the TINIT-
// prefix, added here as SPID does; raw=1 sends it as given). Prints "ready"
// when listening.
//
// Hostile mode for negative tests: /__test/next also takes attack=..., which
// then applies to every answer until the next /__test/next:
//   nonce, aud, at_hash: the token response's ID token with that claim
//     altered, re-signed with the provider's own key;
//   signature: the ID token re-signed with a key not in the JWKS (same kid);
//   iss: the callback's `iss` parameter is another issuer.
//
// Key rotation: GET /__test/rotate makes a new signing key (another kid),
// published in the JWKS from then on and signing every later ID token.
// GET /__test/fetches answers how often the discovery document and the
// JWKS were fetched.
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const FISCAL = 'https://attributes.eid.gov.it/fiscal_number';
const LEVELS = ['https://www.spid.gov.it/SpidL1', 'https://www.spid.gov.it/SpidL2', 'https://www.spid.gov.it/SpidL3'];

const people = new Map();
let next = null;
let attack = null;

// The provider's signing key, generated here so that the script can re-sign;
// and a rogue key with the same kid that the JWKS does not publish.
const own = await generateKeyPair('RS256', { extractable: true });
const ownJwk = { ...(await exportJWK(own.privateKey)), kid: 'upstream-op-key', alg: 'RS256', use: 'sig' };
const ownKey = await importJWK(ownJwk, 'RS256');
const rogueKey = (await generateKeyPair('RS256')).privateKey;
// After /__test/rotate: the new key (private, and its public JWK).
let rotated = null;
const fetches = { discovery: 0, jwks: 0 };

/** The ID token altered as `attack` says, or unchanged. */
async function tamper(idToken) {
  const header = decodeProtectedHeader(idToken);
  const claims = decodeJwt(idToken);
  let key = ownKey;
  if (rotated) {
    key = rotated.key;
    header.kid = rotated.publicJwk.kid;
  }
  switch (attack) {
    case 'nonce': claims.nonce = 'a-nonce-varco-never-sent'; break;
    case 'aud': claims.aud = 'another-client'; break;
    case 'at_hash': claims.at_hash = 'AAAAAAAAAAAAAAAAAAAAAA'; break;
    case 'signature': key = rogueKey; break;
    default: if (!rotated) return idToken;
  }
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [ownJwk] },
  pkce: { required: () => true },
  acrValues: LEVELS,
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', FISCAL],
  },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['upstream-op-test-key'] },
  findAccount: async (ctx, sub) => {
    const person = people.get(sub);
    if (!person) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        given_name: 'Persona',
        family_name: 'Bianchi',
        [FISCAL]: person.raw ? person.fiscal : `TINIT-${person.fiscal}`,
      }),
    };
  },
});

// The scripted interactions and the test's control endpoint, in front of the provider.
provider.use(async (ctx, nextMiddleware) => {
  if (ctx.path === '/__test/next') {
    const { sub, fiscal, acr, raw } = ctx.query;
    people.set(sub, { fiscal, raw: raw === '1' });
    next = { sub, acr };
    attack = ctx.query.attack || null;
    ctx.body = 'ok';
    return;
  }
  if (ctx.path === '/__test/rotate') {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'upstream-op-key-2', alg: 'RS256', use: 'sig' };
    rotated = { key: pair.privateKey, publicJwk };
    ctx.body = 'ok';
    return;
  }
  if (ctx.path === '/__test/fetches') {
    ctx.body = JSON.stringify(fetches);
    return;
  }
  if (ctx.path === '/.well-known/openid-configuration') fetches.discovery += 1;
  if (ctx.path === '/jwks') fetches.jwks += 1;
  if (ctx.path === '/__test/revoked') {
    ctx.body = JSON.stringify({ revoked });
    return;
  }
  if (ctx.path === '/token/revocation' && ctx.method === 'POST') {
    revoked += 1;
  }
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (m) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login') {
      if (!next) { ctx.status = 500; ctx.body = 'no identity chosen'; return; }
      await provider.interactionFinished(ctx.req, ctx.res, {
        login: { accountId: next.sub, acr: next.acr, amr: ['pwd', 'otp'] },
      }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  await nextMiddleware();
  if (rotated && ctx.path === '/jwks' && ctx.body && Array.isArray(ctx.body.keys)) {
    ctx.body = { keys: [...ctx.body.keys, rotated.publicJwk] };
  }
  if (rotated && !attack && ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
  if (!attack) return;
  if (ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
  const location = ctx.response.get('location');
  if (attack === 'iss' && location && location.startsWith(process.env.REDIRECT_URI)) {
    const url = new URL(location);
    url.searchParams.set('iss', 'http://127.0.0.1:9/another-issuer');
    ctx.set('location', url.toString());
  }
});
let revoked = 0;

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
