"""The grant types this demo speaks: one spelling for the client, the CLI, the lab and the
authorization server, so a typo in one copy cannot split them apart.

RFC 6749 §4.1.3 (authorization_code), §6 (refresh_token), §4.4.2 (client_credentials);
RFC 8628 §3.4 (the device grant's URN) and §3.5 (slow_down's step).
"""
from __future__ import annotations

AUTHORIZATION_CODE = "authorization_code"      # RFC 6749 §4.1.3
REFRESH_TOKEN = "refresh_token"                # RFC 6749 §6
CLIENT_CREDENTIALS = "client_credentials"      # RFC 6749 §4.4.2
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"   # RFC 8628 §3.4

# RFC 8628 §3.5: on slow_down "the interval MUST be increased by 5 seconds" for all
# subsequent requests.
SLOW_DOWN_STEP = 5
