// Test-only OpenID Provider for interop tests of the oauthdemo client.
//
// Runs the OpenID-certified `oidc-provider` package (pinned in package.json)
// on 127.0.0.1 with an ephemeral port and prints exactly one JSON line to
// stdout once it is ready to accept requests:
//
//     {"issuer": "http://localhost:<port>", "port": <port>}
//
// It then serves until it receives SIGTERM/SIGINT or its stdin is closed (so
// the process never outlives the Python test that started it).
//
// Configuration:
//   REDIRECT_URI  (env, or argv[2]) exact redirect URI registered for the
//                 public client `interop-public`; several, separated by spaces
//                 (the web app's and the CLI's). Required. Each one's origin + "/"
//                 is registered as a post_logout_redirect_uri (RP-Initiated Logout).
//                 The client may ask for offline_access: a refresh token comes when
//                 the request has prompt=consent (OIDC Core §11).
//   REQUIRE_PAR   (env) "1": every authorization request must be pushed first
//                 (RFC 9126 §5, require_pushed_authorization_requests in discovery).
//
// Everything it logs (oidc-provider's development warnings included) goes to
// stderr, so stdout carries only the ready line.
//
// Not for production: accounts are made up from whatever login id is typed
// into the development login form, and all state is in memory.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider prints its development warnings with console.info/warn; make
// sure nothing but the ready line can reach stdout.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
console.debug = console.error;

const redirectUri = process.env.REDIRECT_URI || process.argv[2];
if (!redirectUri) {
  console.error('oidc_provider_server: REDIRECT_URI (env or first argument) is required');
  process.exit(2);
}

const CLIENT_ID = 'interop-public';

// A fresh RSA signing key per run, so ID tokens are RS256 and signed by a key
// we provide (instead of oidc-provider's built-in development keys).
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: crypto.randomBytes(8).toString('hex'),
  use: 'sig',
  alg: 'RS256',
};

// Cookie signing keys, also per run.
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

// Fake account store: any login id is a valid account whose sub is that id.
function accountFor(sub) {
  return {
    accountId: sub,
    async claims(use, scope, claims, rejected) {
      return {
        sub,
        name: `Interop User ${sub}`,
        email: `${sub}@example.test`,
        email_verified: true,
      };
    },
  };
}

function shutdown(server, code = 0) {
  server.close();
  // Keep-alive sockets would hold close() open; nothing here needs a graceful
  // drain, so just go.
  process.exit(code);
}

// Listen first (port 0), then build the Provider with the issuer that carries
// the real port, then attach its request handler.
const server = http.createServer();
server.on('error', (err) => {
  console.error('oidc_provider_server: server error', err);
  process.exit(1);
});

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = `http://localhost:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUri.split(/\s+/),
        post_logout_redirect_uris: redirectUri.split(/\s+/).map((uri) => new URL('/', uri).href),
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingJwk] },
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    async findAccount(ctx, sub, token) {
      return accountFor(sub);
    },
    features: {
      devInteractions: { enabled: true },
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: process.env.REQUIRE_PAR === '1',
      },
    },
    // PKCE is mandatory for every client (public ones are forced anyway);
    // oidc-provider v9 only implements and advertises S256 (plain is gone).
    pkce: {
      required: () => true,
    },
    ttl: {
      AccessToken: 60 * 60,
      AuthorizationCode: 60,
      ClientCredentials: 10 * 60,
      DeviceCode: 10 * 60,
      BackchannelAuthenticationRequest: 10 * 60,
      PreAuthorizedCode: 10 * 60,
      IdToken: 60 * 60,
      RefreshToken: 24 * 60 * 60,
      Interaction: 60 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
    },
    async renderError(ctx, out, error) {
      // Plain, parseable error page (the default pulls in web fonts).
      ctx.type = 'html';
      const rows = Object.entries(out)
        .map(([k, v]) => `<p><strong>${k}</strong>: ${String(v).replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}</p>`)
        .join('\n');
      ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body><h1>oops! something went wrong</h1>\n${rows}\n</body></html>`;
    },
  });

  // Plain http on localhost: oidc-provider derives the `secure` cookie flag
  // from ctx.secure (false here), so no proxy/cookie tweaks are needed. Do NOT
  // set provider.proxy = true: with nobody sending X-Forwarded-* it is moot,
  // and it would let a client spoof the scheme.

  provider.on('server_error', (ctx, err) => {
    console.error('oidc_provider_server: server_error', err);
  });

  // Static clients are validated lazily; load ours now so that bad
  // configuration (e.g. an invalid REDIRECT_URI) fails at startup, not in the
  // middle of a test.
  try {
    const client = await provider.Client.find(CLIENT_ID);
    if (!client) throw new Error(`client ${CLIENT_ID} not found`);
  } catch (err) {
    console.error('oidc_provider_server: invalid client configuration:', err.error_description || err.message);
    process.exit(1);
  }

  server.on('request', provider.callback());

  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

process.on('SIGTERM', () => shutdown(server, 0));
process.on('SIGINT', () => shutdown(server, 0));
process.stdin.on('end', () => shutdown(server, 0));
process.stdin.on('error', () => shutdown(server, 0));
process.stdin.resume();
