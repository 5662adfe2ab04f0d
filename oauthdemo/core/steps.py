"""The ten steps of an Authorization Code + PKCE login: one numbering for the console, the
walkthrough page and the code (each handler is named for its step).

A step's title is what a learner reads in the console heading ("Step 2 of 10 · The PKCE
secrets") and on the walkthrough page; its specs are the RFC sections that define it.
"""
from __future__ import annotations

import enum

RFC = "https://www.rfc-editor.org/rfc/"
OIDC_CORE = "https://openid.net/specs/openid-connect-core-1_0.html"
OIDC_DISCOVERY = "https://openid.net/specs/openid-connect-discovery-1_0.html"
STEP_COUNT = 10


class Step(enum.Enum):
    """Value = (number, title, specs); ``Step.PKCE_SECRETS.number == 2``."""

    # Before the ten: the app's own page, where nothing secret exists yet.
    WELCOME = (0, "The app's welcome page", ())
    # Before the ten, once per client: it reads what the provider publishes (its endpoints,
    # where its public keys are), and checks the document names the configured issuer.
    DISCOVERY = (0, "Discovery: what the provider publishes", (
        ("OpenID Connect Discovery 1.0 §4", OIDC_DISCOVERY + "#ProviderConfig"),))
    LOGIN = (1, "The login starts", (("RFC 6749 §4.1", RFC + "rfc6749#section-4.1"),))
    PKCE_SECRETS = (2, "The PKCE secrets", (
        ("RFC 7636 §4.1", RFC + "rfc7636#section-4.1"),
        ("RFC 7636 §4.2", RFC + "rfc7636#section-4.2")))
    REDIRECT = (3, "The redirect to the authorization server", (
        ("RFC 6749 §4.1.1", RFC + "rfc6749#section-4.1.1"),
        ("RFC 7636 §4.3", RFC + "rfc7636#section-4.3"),
        ("OpenID Connect Core §3.1.2.1", OIDC_CORE + "#AuthRequest")))
    CHALLENGE_STORED = (4, "The authorization server stores the challenge", (
        ("RFC 7636 §4.4", RFC + "rfc7636#section-4.4"),
        ("RFC 6749 §3.1.2", RFC + "rfc6749#section-3.1.2")))
    AUTHENTICATION = (5, "Authentication and consent", (
        ("OpenID Connect Core §3.1.2.3", OIDC_CORE + "#Authenticates"),
        ("§3.1.2.4", OIDC_CORE + "#Consent")))
    CALLBACK = (6, "The callback and the state check", (
        ("RFC 6749 §4.1.2", RFC + "rfc6749#section-4.1.2"),
        ("RFC 6749 §10.12", RFC + "rfc6749#section-10.12"),
        ("RFC 9207 §2", RFC + "rfc9207#section-2")))
    TOKEN_REQUEST = (7, "The token exchange (no browser)", (
        ("RFC 6749 §4.1.3", RFC + "rfc6749#section-4.1.3"),
        ("RFC 7636 §4.5", RFC + "rfc7636#section-4.5")))
    PKCE_CHECK = (8, "The authorization server's PKCE check", (
        ("RFC 7636 §4.6", RFC + "rfc7636#section-4.6"),))
    ID_TOKEN = (9, "The tokens: verify the ID token before believing it", (
        ("RFC 6749 §5.1", RFC + "rfc6749#section-5.1"),
        ("OpenID Connect Core §3.1.3.7", OIDC_CORE + "#IDTokenValidation"),
        ("RFC 7517", RFC + "rfc7517")))
    PROTECTED_API = (10, "The protected API", (
        ("RFC 6750 §2.1", RFC + "rfc6750#section-2.1"),
        ("RFC 7662 §2", RFC + "rfc7662#section-2")))
    # After the ten: what a logged-in client does next.
    REFRESH = (11, "Refresh: the refresh token buys new tokens", (
        ("RFC 6749 §6", RFC + "rfc6749#section-6"),
        ("RFC 9700 §4.14.2", RFC + "rfc9700#section-4.14.2")))

    @property
    def number(self) -> int:
        return self.value[0]

    @property
    def title(self) -> str:
        return self.value[1]

    @property
    def specs(self) -> tuple:
        return self.value[2]

    @property
    def label(self) -> str:
        """ "Step 2 of 10" for the ten; "Before the login" / "After the login" around them."""
        if self.number < 1:
            return "Before the login"
        if self.number <= STEP_COUNT:
            return f"Step {self.number} of {STEP_COUNT}"
        return "After the login"

    @classmethod
    def numbered(cls, number: int) -> "Step":
        return next(step for step in cls if step.number == number)


THE_TEN = tuple(step for step in Step if 1 <= step.number <= STEP_COUNT)


# RFC 8628 (the device authorization grant) has its own six steps: the same Step-like
# members (number, title, specs, label), so a StepStarted heading reads "Device step 5 of 6".
RFC8628 = RFC + "rfc8628"
DEVICE_STEP_COUNT = 6


class DeviceStep(enum.Enum):
    """The device grant's steps, for the CLI's ``login --device`` and the server's side."""

    DEVICE_REQUEST = (1, "The CLI asks for a device code", (
        ("RFC 8628 §3.1", RFC8628 + "#section-3.1"),))
    DEVICE_CODE = (2, "The authorization server issues a device code and a user code", (
        ("RFC 8628 §3.2", RFC8628 + "#section-3.2"),))
    USER_CODE = (3, "The user takes the code to a browser on any device", (
        ("RFC 8628 §3.3", RFC8628 + "#section-3.3"),))
    APPROVAL = (4, "Login and consent at the authorization server", (
        ("RFC 8628 §3.3", RFC8628 + "#section-3.3"),
        ("RFC 8628 §5.4", RFC8628 + "#section-5.4")))
    POLLING = (5, "The CLI polls the token endpoint", (
        ("RFC 8628 §3.4", RFC8628 + "#section-3.4"),
        ("RFC 8628 §3.5", RFC8628 + "#section-3.5")))
    TOKENS = (6, "The tokens: verify the ID token before believing it", (
        ("OpenID Connect Core §3.1.3.7", OIDC_CORE + "#IDTokenValidation"),))

    number = Step.number
    title = Step.title
    specs = Step.specs

    @property
    def label(self) -> str:
        return f"Device step {self.number} of {DEVICE_STEP_COUNT}"
