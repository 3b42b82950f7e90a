// A local OpenID Connect provider (oidc-provider) for the demo, the e2e suite and the benchmark.
//
// It listens on loopback only, registers one public client `spa` (PKCE, refresh tokens, no secret) and
// counts what happens at the authorization server so tests can assert "exactly one refresh grant" and
// "no grant was revoked". It also serves a tiny resource server at `GET /rs/me` that accepts only
// access tokens that are valid *right now* (checked against the provider's own store), so a test can
// prove that a client never used an expired token.
//
// Never use this configuration in production: devInteractions accept any username and password, and
// keys and storage live in memory.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * @typedef {object} ProviderEvents
 * @property {Record<string, number>} grantSuccess `grant.success` per grant type
 * @property {Record<string, number>} grantError   `grant.error` per OAuth error code
 * @property {number} grantRevoked                 `grant.revoked`
 * @property {Record<string, number>} grantRevokedBy `grant.revoked` per route (`token`: replay, `revocation`: RFC 7009)
 * @property {number} refreshTokenConsumed         `refresh_token.consumed`
 * @property {Array<{ type: string, at: number, detail?: string }>} log every counted event in order
 * @property {() => void} reset                    zeroes every counter and the log (not `issued`)
 * @property {Set<string>} issued                  every token value handed out, for leak checks
 */

/**
 * Starts the provider.
 * @param {object} [options]
 * @param {number} [options.port] 0 picks a free port
 * @param {string} [options.host] must be a loopback address
 * @param {string[]} [options.appOrigins] origins of the apps using client `spa` (CORS + redirect URIs `<origin>/cb`)
 * @param {string[]} [options.redirectUris] extra redirect URIs for `spa`
 * @param {object[]} [options.clients] replaces the default client list entirely
 * @param {number} [options.accessTokenTtl] seconds
 * @param {number} [options.refreshTokenTtl] seconds (a rotated RT of a public client only gets the remaining lifetime)
 * @param {boolean | ((ctx: any) => boolean)} [options.rotateRefreshToken]
 * @param {boolean} [options.revocation] enable the RFC 7009 revocation endpoint
 * @param {boolean | object} [options.dpop] enable DPoP (`true`, or `{ requireNonce }`)
 * @param {boolean} [options.quiet] hide oidc-provider's development notices (default true)
 * @param {object} [options.config] extra oidc-provider configuration, shallow-merged last
 */
export async function startProvider({
  port = 0,
  host = '127.0.0.1',
  appOrigins = [],
  redirectUris = [],
  clients,
  accessTokenTtl = 30,
  refreshTokenTtl = 14 * 24 * 60 * 60,
  rotateRefreshToken = true,
  revocation = true,
  dpop = false,
  quiet = true,
  config = {},
} = {}) {
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) throw new Error(`startProvider: host must be loopback, got ${host}`);
  if (quiet) silenceDevelopmentNotices();
  // Imported lazily so the notice filter is in place first (oidc-provider warns at import on Node 20).
  const { default: Provider } = await import('oidc-provider');

  // The issuer needs the port, so bind first and attach the handler afterwards.
  let handler = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;

  const origins = new Set(appOrigins.map((o) => new URL(o).origin));
  const spa = {
    client_id: 'spa',
    client_name: 'sessionkeeper test SPA',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [...[...origins].map((o) => `${o}/cb`), ...redirectUris],
  };
  // RP-initiated logout (oidc-provider's end_session_endpoint, on by default) may send the browser back
  // to exactly these: every redirect URI of the client.
  spa.post_logout_redirect_uris = [...spa.redirect_uris];
  // oidc-provider rejects a client without redirect URIs; keep one harmless placeholder then.
  if (spa.redirect_uris.length === 0) spa.redirect_uris.push('http://127.0.0.1/cb');

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-rs256', use: 'sig', alg: 'RS256' };

  const dpopConfig = dpop
    ? { enabled: true, nonceSecret: randomBytes(32), ...(typeof dpop === 'object' ? dpop : {}) }
    : { enabled: false };

  const provider = new Provider(issuer, {
    adapter: createAdapterFactory(),
    clients: clients ?? [spa],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Public SPA clients: allow exactly the origins of their registered redirect URIs. Actual requests
    // from any other origin get no Access-Control-Allow-Origin (the browser sees a TypeError).
    clientBasedCORS: (_ctx, origin, client) =>
      origin !== 'null' && client.redirectUris.some((uri) => safeOrigin(uri) === origin),
    // Refresh tokens without prompt=consent / offline_access (the default needs offline_access).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: !!revocation },
      introspection: { enabled: true },
      dPoP: dpopConfig,
    },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
      // A rotated refresh token of a public, non-sender-constrained client inherits the remaining
      // lifetime of its predecessor (draft-ietf-oauth-browser-based-apps): rotation never extends it.
      RefreshToken: (ctx, token, client) => {
        const rotated = ctx?.oidc?.entities?.RotatedRefreshToken;
        if (rotated && client.clientAuthMethod === 'none' && !token.isSenderConstrained()) return rotated.remainingTTL;
        return refreshTokenTtl;
      },
    },
    ...config,
  });

  const events = createEvents();
  provider.on('grant.success', (ctx) => {
    events.count('grant.success', ctx.oidc?.params?.grant_type ?? 'unknown');
    for (const k of ['access_token', 'refresh_token', 'id_token']) if (typeof ctx.body?.[k] === 'string') events.issued.add(ctx.body[k]);
  });
  provider.on('grant.error', (_ctx, err) => events.count('grant.error', err?.error ?? err?.name ?? 'unknown'));
  // Tagged with the route: `token` means a replayed refresh token killed the family, `revocation` is
  // an RFC 7009 revocation (logout), which revokes the grant of the token by default.
  provider.on('grant.revoked', (ctx) => events.count('grant.revoked', ctx?.oidc?.route ?? 'other'));
  provider.on('refresh_token.consumed', () => events.count('refresh_token.consumed'));
  // Unexpected server errors should fail tests loudly, not hide in a 500 body.
  provider.on('server_error', (_ctx, err) => events.count('server_error', String(err?.message ?? err)));

  const providerCallback = provider.callback();
  handler = (req, res) => {
    if (req.url?.startsWith('/rs/')) return resourceServer(req, res);
    return providerCallback(req, res);
  };

  /** The resource-server stub: 200 `{ sub, exp, scope }` for a currently valid AT, 401 otherwise. */
  async function resourceServer(req, res) {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-headers', 'authorization, content-type, dpop');
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.statusCode = 204;
      return res.end();
    }
    res.setHeader('cache-control', 'no-store');
    const token = /^(?:Bearer|DPoP)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const at = token ? await provider.AccessToken.find(token) : undefined;
    events.count('rs.request', at ? 'ok' : token ? 'invalid' : 'missing');
    if (!at) {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
      return res.end();
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ sub: at.accountId, exp: at.exp, scope: at.scope }));
  }

  async function clientSpa() {
    const client = await provider.Client.find('spa');
    if (!client) throw new Error('client spa is not registered');
    return client;
  }

  return {
    issuer,
    provider,
    port: actualPort,
    server,
    events,
    tokenEndpoint: `${issuer}/token`,
    resourceUrl: `${issuer}/rs/me`,

    /**
     * Signs a user in without the login UI: a Grant, a RefreshToken and an AccessToken, minted
     * in-process exactly like the authorization-code exchange would.
     */
    async mintSession({ accountId = 'alice', scope = 'openid offline_access' } = {}) {
      const client = await clientSpa();
      const grant = new provider.Grant({ accountId, clientId: client.clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const common = { accountId, client, grantId, scope, gty: 'authorization_code' };
      const rt = new provider.RefreshToken({ ...common, iiat: Math.floor(Date.now() / 1000) });
      const refreshToken = await rt.save();
      const at = new provider.AccessToken({ accountId, client, grantId, scope, gty: 'authorization_code' });
      const accessToken = await at.save();
      events.issued.add(accessToken).add(refreshToken);
      return { accessToken, refreshToken, expiresAt: Date.now() + at.expiration * 1000, scope, grantId };
    },

    /** The grant id behind a refresh token (even a consumed or expired one), or undefined. */
    async grantIdOf(refreshToken) {
      const rt = await provider.RefreshToken.find(refreshToken, { ignoreExpiration: true });
      return rt?.grantId;
    },

    /** Revokes a whole grant at the AS (what an admin "sign out everywhere" does). */
    async revokeGrant(grantId) {
      const grant = await provider.Grant.find(grantId);
      if (grant) await grant.destroy();
      for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode']) {
        await provider[model].adapter.revokeByGrantId(grantId);
      }
    },

    /** True when `accessToken` is currently valid at the AS (what introspection would say). */
    async isAccessTokenActive(accessToken) {
      return !!(await provider.AccessToken.find(accessToken));
    },

    /** True when `refreshToken` would be accepted by the token endpoint right now. */
    async isRefreshTokenActive(refreshToken) {
      const rt = await provider.RefreshToken.find(refreshToken);
      if (!rt || rt.consumed) return false;
      return !!(await provider.Grant.find(rt.grantId));
    },

    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function safeOrigin(uri) {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}

function createEvents() {
  const events = {
    grantSuccess: {},
    grantError: {},
    grantRevoked: 0,
    /** grant.revoked per route: `token` (refresh-token replay) or `revocation` (RFC 7009) */
    grantRevokedBy: {},
    refreshTokenConsumed: 0,
    rs: {},
    serverErrors: [],
    /** Every token value handed out (token responses and mintSession), for leak checks. */
    issued: new Set(),
    /** @type {Array<{ type: string, at: number, detail?: string }>} */
    log: [],
    count(type, detail) {
      events.log.push({ type, at: Date.now(), detail });
      if (type === 'grant.success') events.grantSuccess[detail] = (events.grantSuccess[detail] ?? 0) + 1;
      else if (type === 'grant.error') events.grantError[detail] = (events.grantError[detail] ?? 0) + 1;
      else if (type === 'grant.revoked') {
        events.grantRevoked += 1;
        events.grantRevokedBy[detail] = (events.grantRevokedBy[detail] ?? 0) + 1;
      }
      else if (type === 'refresh_token.consumed') events.refreshTokenConsumed += 1;
      else if (type === 'rs.request') events.rs[detail] = (events.rs[detail] ?? 0) + 1;
      else if (type === 'server_error') events.serverErrors.push(detail);
    },
    /** Number of successful `refresh_token` grants. */
    get refreshGrants() {
      return events.grantSuccess.refresh_token ?? 0;
    },
    reset() {
      events.grantSuccess = {};
      events.grantError = {};
      events.grantRevoked = 0;
      events.grantRevokedBy = {};
      events.refreshTokenConsumed = 0;
      events.rs = {};
      events.serverErrors = [];
      events.log = [];
    },
    /** Tokens are kept across reset(): a leak check covers everything issued in the test. */
    /** A plain-data copy for assertion messages. */
    summary() {
      return {
        grantSuccess: { ...events.grantSuccess },
        grantError: { ...events.grantError },
        grantRevoked: events.grantRevoked,
        grantRevokedBy: { ...events.grantRevokedBy },
        refreshTokenConsumed: events.refreshTokenConsumed,
        rs: { ...events.rs },
        serverErrors: [...events.serverErrors],
      };
    },
  };
  return events;
}

/**
 * An in-memory adapter with one store per provider (oidc-provider's own quick-start adapter is an
 * LRU capped at 1000 entries, which a long benchmark can overflow). Expiry is honoured on read.
 */
function createAdapterFactory() {
  const store = new Map(); // key -> { payload, expiresAt }
  const byGrant = new Map(); // grantId -> Set<key>
  const index = new Map(); // 'uid:..' / 'userCode:..' -> id
  const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

  const read = (key) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MapAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(key, { payload, expiresAt });
      if (grantable.has(this.model) && payload.grantId) {
        if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
        byGrant.get(payload.grantId).add(key);
      }
      if (this.model === 'Session' && payload.uid) index.set(`uid:${payload.uid}`, id);
      if (payload.userCode) index.set(`userCode:${payload.userCode}`, id);
    }

    async find(id) {
      return read(this.key(id));
    }

    async findByUid(uid) {
      const id = index.get(`uid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = index.get(`userCode:${userCode}`);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const payload = read(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    }
  };
}

let silenced = false;
/** Drops oidc-provider's "development only" notices (they are expected here); everything else passes. */
function silenceDevelopmentNotices() {
  if (silenced) return;
  silenced = true;
  for (const level of ['info', 'warn']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      if (typeof args[0] === 'string' && /oidc-provider (NOTICE|WARNING): /.test(args[0])) return;
      original(...args);
    };
  }
}
