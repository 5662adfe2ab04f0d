"""The client's words for a learner: durations, claims, authorization parameters, API checks.

Shared by the console (the client's own events), the walkthrough pages and the protected
API's answer, so one thing is always said the same way. Nothing here decides anything.
"""
from __future__ import annotations

import json
import time

TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")   # RFC 7519 §4.1, OIDC Core §2: NumericDate

# RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1: what each authorization parameter says.
PARAM_NOTES = {
    "response_type": "I want an authorization code",
    "client_id": "which application is asking",
    "redirect_uri": "where to send the browser back; must be registered exactly",
    "scope": "what the app asks to know / do",
    "code_challenge": "the hash; the verifier stays with the app",
    "code_challenge_method": "SHA-256 (never 'plain')",
    "state": "will come back unchanged; proves the callback is ours",
    "nonce": "will be inside the ID token; proves the token is for this login",
    "audience": "which API the access token is for (Auth0)",
    "prompt": "consent: OIDC Core §11 gives offline_access (a refresh token) only after "
              "the user consents, so the app asks for the consent screen",
}

# The sentences of the protected API's "checks" (Step 10).
LOCAL_JWT_OK = "valid: RS256 signature (JWKS key), iss, aud, exp, iat"
CHECK_FAILED = "NOT "       # how a sentence in an API answer's "checks" says that check failed
CHECK_SKIPPED = "not "      # … and that it was not made at all ("not asked: …")


def check_status(said: str) -> str:
    """One sentence of an API answer's "checks": "failed", "not_checked" or "passed"."""
    if said.startswith(CHECK_FAILED):
        return "failed"
    return "not_checked" if said.startswith(CHECK_SKIPPED) else "passed"


def human_duration(seconds: float) -> str:
    """9 h 59 min, 42 s … for claims a learner reads."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


def describe_claim(name: str, value, now: float) -> str:
    """A claim as a learner reads it: times get a date and "in 9 h 59 min" / "2 min ago"."""
    if name in TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
        delta = value - now
        relative = f"in {human_duration(delta)}" if delta > 0 else f"{human_duration(delta)} ago"
        return f"{value}  ({when}, {relative})"
    return value if isinstance(value, str) else json.dumps(value)


# == What a learner can do about a refused login: hints by cause, not by code alone ============
# One error code has many causes (invalid_request: a PAR-only provider, a redirect_uri it does
# not know, …), so a hint is chosen by the code and the words of the description; the first
# rule that matches wins, and a cause not recognised gets no hint rather than a wrong one.
PAR_HINT = ("This provider accepts only pushed authorization requests (RFC 9126): the app "
            "must first POST its parameters to the provider, server to server. The client does "
            "so when discovery says require_pushed_authorization_requests; otherwise turn it on "
            "with OIDC_USE_PAR=true (or --par).")
CALLBACK_HINT = ("Check that the redirect URI registered with the provider is exactly this "
                 "app's /callback (scheme, host, port and path).")
REFRESH_HINT = ("A refresh token works once (it rotates), and the embedded server forgets "
                "its tokens when it stops (the one `login` starts for itself when no demo is "
                "running stops with the command): run `python3 complete_oauth_demo.py` in "
                "another terminal so `login` uses that one, or log in again.")
UNREACHABLE_HINT = ("Is the demo running? Start it with: python3 complete_oauth_demo.py (with "
                    "another provider: check its issuer URL and the network).")
HINT_RULES = (
    ("invalid_request", ("pushed authorization request", "request_uri", "par "), PAR_HINT),
    ("invalid_request", ("redirect_uri", "redirect uri", "callback url"), CALLBACK_HINT),
    ("invalid_redirect_uri", (), CALLBACK_HINT),
    ("unauthorized_client", ("pushed", "par "), PAR_HINT),
    ("access_denied", (), "You (or the server) pressed Deny. Nothing was shared; start again "
                          "whenever you like."),
    ("invalid_state", (), "State protects against login CSRF: a callback is accepted only once, "
                          "only in the browser that started the login, and only for 10 minutes."),
    ("invalid_grant", ("refresh token",), REFRESH_HINT),
    ("invalid_grant", (), "The code was refused: it may have been used already, expired, or the "
                          "PKCE verifier did not match the challenge."),
    ("unauthorized_client", (), "This client may not use this grant: enable it for the "
                                "application at the provider (Auth0: Advanced Settings → "
                                "Grant Types)."),
    ("expired_token", (), "The device code expired before anyone approved it: run the command "
                          "again for a new code."),
    ("temporarily_unavailable", ("did not answer", "could not reach"), UNREACHABLE_HINT),
    ("invalid_client", (), "The provider did not accept the client's credentials: check the "
                           "client id and secret, and that OIDC_TOKEN_AUTH_METHOD (or "
                           "AUTH0_TOKEN_AUTH_METHOD) is the method the app is registered for."),
    ("invalid_scope", (), "The provider does not offer one of the scopes asked for: check "
                          "OAUTH_SCOPE against its scopes_supported."),
)


def hint_for(error: str, description: str) -> str:
    """The hint whose cause matches this error code and description, or "" when none does."""
    said = description.lower()
    for code, words, hint in HINT_RULES:
        if code == error and (not words or any(w in said for w in words)):
            return hint
    return ""
