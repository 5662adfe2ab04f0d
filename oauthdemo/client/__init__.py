"""The OAuth client side: discovery, the OIDC client, transport. Imports only core."""
