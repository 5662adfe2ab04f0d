"""The OAuth client side; imports only core (and pkce).

oidc (the OIDC client, built ready by discovery), transport (the one way we call a
provider), jwks (the provider's keys), pending (logins waiting for their callback),
resource (Step 10: the app's API checks an access token), explain (the words the console
and the pages share), useragent (a scripted browser for tests, bench and the attack lab).
"""
