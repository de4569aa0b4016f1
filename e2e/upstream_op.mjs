// An upstream OpenID provider standing in for a SPID/CIE gateway in static
// mode: npm `oidc-provider` on 127.0.0.1, one confidential client (Varco),
// PKCE required, and a scripted login instead of a login form.
//
// Environment: PORT (listen port), REDIRECT_URI (Varco's callback),
// CLIENT_ID, CLIENT_SECRET. The test chooses who signs in next with
// GET /__test/next?sub=...&fiscal=...&acr=... (fiscal without the TINIT-
// prefix, added here as SPID does). Prints "ready" when listening.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const FISCAL = 'https://attributes.eid.gov.it/fiscal_number';
const LEVELS = ['https://www.spid.gov.it/SpidL1', 'https://www.spid.gov.it/SpidL2', 'https://www.spid.gov.it/SpidL3'];

const people = new Map();
let next = null;

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
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
        [FISCAL]: `TINIT-${person.fiscal}`,
      }),
    };
  },
});

// The scripted interactions and the test's control endpoint, in front of the provider.
provider.use(async (ctx, nextMiddleware) => {
  if (ctx.path === '/__test/next') {
    const { sub, fiscal, acr } = ctx.query;
    people.set(sub, { fiscal });
    next = { sub, acr };
    ctx.body = 'ok';
    return;
  }
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
});
let revoked = 0;

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
