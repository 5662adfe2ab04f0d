// openid-client (panva, OpenID Certified RP) against the demo's embedded server.
//
// Driven by tests/test_interop_openid_client.py. Two logins as the public native client
// (env CLIENT_ID, loopback REDIRECT_URI): one through the browser's URL, one pushed
// (RFC 9126 PAR). For each, this script prints {"authorize_url": ...} on stdout and reads
// the callback URL from stdin (the Python test plays the browser with ScriptedBrowser).
// It ends with one line {"results": {...}}: what each step saw. Anything unexpected
// throws, and the process exits non-zero with the error on stderr.
import * as client from "openid-client";
import readline from "node:readline";

const { ISSUER, CLIENT_ID, REDIRECT_URI } = process.env;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function browser(url) {
  process.stdout.write(JSON.stringify({ authorize_url: url.href }) + "\n");
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed before the callback URL arrived");
  return new URL(value.trim());
}

async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return err.error || err.code || String(err);
  }
}

async function login(config, { par }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: REDIRECT_URI, scope: "openid profile email offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256", state, nonce,
  };
  const url = par
    ? await client.buildAuthorizationUrlWithPAR(config, params)
    : client.buildAuthorizationUrl(config, params);
  const callback = await browser(url);
  // RFC 9207: openid-client checks iss itself, since discovery says it is always sent.
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { url, callback, tokens };
}

async function main() {
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.None(),
                                        { execute: [client.allowInsecureRequests] });
  const meta = config.serverMetadata();
  const first = await login(config, { par: false });
  const claims = first.tokens.claims();
  const userinfo = await client.fetchUserInfo(config, first.tokens.access_token, claims.sub);
  const rotated = await client.refreshTokenGrant(config, first.tokens.refresh_token);
  const reuse = await errorOf(client.refreshTokenGrant(config, first.tokens.refresh_token));

  const pushed = await login(config, { par: true });
  await client.tokenRevocation(config, pushed.tokens.refresh_token);
  const afterRevoke = await errorOf(client.refreshTokenGrant(config, pushed.tokens.refresh_token));

  const results = {
    issuer: meta.issuer,
    par_endpoint: meta.pushed_authorization_request_endpoint,
    callback_iss: first.callback.searchParams.get("iss"),
    id_token_sub: claims.sub, id_token_aud: claims.aud, nonce_checked: Boolean(claims.nonce),
    userinfo_sub: userinfo.sub,
    refresh_rotated: Boolean(rotated.refresh_token)
      && rotated.refresh_token !== first.tokens.refresh_token,
    refreshed_id_token_sub: rotated.claims()?.sub,
    stale_refresh_error: reuse,
    par_url_params: [...pushed.url.searchParams.keys()].sort(),
    par_id_token_sub: pushed.tokens.claims().sub,
    refresh_after_revocation_error: afterRevoke,
  };
  process.stdout.write(JSON.stringify({ results }) + "\n");
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err.name}: ${err.message}\n${err.cause ? JSON.stringify(err.cause) : ""}\n`);
  process.exit(1);
});
