"""JOSE core: RSA JWKs, RS256/HS256 JWS and JWT checks (RFC 7515, 7517, 7518, 7519, 7638, 8017).

What each part implements:

* base64url without padding: RFC 7515 §2 and Appendix C, decoded strictly.
* RSA keys as JWKs: RFC 7517 §4 and RFC 7518 §6.3; key ids are RFC 7638 §3 thumbprints.
* RS256 = RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3, RFC 8017 §8.2 and §9.2);
  HS256 = HMAC-SHA-256 (RFC 7518 §3.2).
* Compact JWS creation and validation: RFC 7515 §5.1, §5.2 and §7.1.
* Time claims of a JWT: RFC 7519 §4.1.4 to §4.1.6.

``verify_jws`` (and ``core.claims.verify_jwt`` on top of it) is the only way in whose output may be trusted. It trusts the caller's
algorithm list and key, never the token's header: letting the token choose either is how
the classic JWT attacks work (``alg: none``, RS256-to-HS256 key confusion, embedded ``jwk``).

Everything here is pure Python and meant for a local teaching server, not for production.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
from dataclasses import dataclass, field

from oauthdemo.core.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    MalformedToken,
    SigningFailed,
    UnknownKey,
)

SUPPORTED_ALGORITHMS = ("RS256", "HS256")
MIN_RSA_BITS = 2048              # NIST SP 800-131A: smaller RSA keys are no longer acceptable
# The size and the exponent bound the work of one verification, pow(s, e, n): with an
# 8192-bit n and an e as large as n, one check took 1.3 s, so a JWKS (or a key someone
# slipped into one) could stall every login. 4096 bits and e < 2^32 keep it to milliseconds.
MAX_RSA_BITS = 4096
MIN_RSA_EXPONENT = 3             # e = 1 makes every "signature" its own message: free forgery
RSA_EXPONENT_LIMIT = 1 << 32     # e must be below this (real keys use 65537)
MIN_HS256_KEY_BYTES = 32         # RFC 7518 §3.2: the key must be at least as long as the hash
MAX_TOKEN_CHARS = 16384          # bounds the work an unauthenticated request can cause
# RFC 8017 §9.2 note 1: DER of DigestInfo{sha256 OID, NULL}, followed by the 32-byte hash.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# Composites fail the first Miller-Rabin round almost always, so extra rounds only cost time
# on the final, real prime. A few rounds already give 2^-100 for random 1024-bit candidates
# (Damgard-Landrock-Pomerance bounds used by FIPS 186); 40 is a wide margin.
MILLER_RABIN_ROUNDS = 40
SMALL_PRIME_LIMIT = 2000
# An HS256 "secret" starting like this is a public key (PEM, OpenSSH, JWK): anyone can HMAC with it.
PUBLIC_KEY_MARKERS = (b"-----BEGIN", b"ssh-rsa", b"{")

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_JSON_SEPARATORS = (",", ":")


# --- base64url (RFC 7515 §2, Appendix C) ------------------------------------------------

def b64url_encode(data: bytes) -> str:
    """base64url without '=' padding (RFC 7515 Appendix C)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: alphabet [A-Za-z0-9_-] only, no padding, canonical; else ValueError.

    Refusing other spellings keeps one token to one string, so a blocklist or replay check
    keyed on the token text cannot be dodged by re-encoding it (signature malleability).
    """
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url text")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise ValueError("non-canonical base64url (unused trailing bits are set)")
    return raw


def _int_to_b64(value: int) -> str:
    """RFC 7518 §6.3.1: a JWK number is its big-endian bytes, without leading zeros."""
    return b64url_encode(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def json_bytes(obj: dict) -> bytes:
    """Compact JSON; allow_nan=False because NaN/Infinity are not JSON (RFC 8259 §6)."""
    return json.dumps(obj, separators=_JSON_SEPARATORS, allow_nan=False).encode("utf-8")


# --- RSA keys (RFC 8017 §3, RFC 7517/7518 JWKs, RFC 7638 thumbprints) --------------------

@dataclass(frozen=True)
class RSAPublicKey:
    n: int
    e: int

    @property
    def size_bits(self) -> int:
        return self.n.bit_length()

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint: the same key always gets the same id, anywhere."""
        return jwk_thumbprint({"kty": "RSA", "n": _int_to_b64(self.n), "e": _int_to_b64(self.e)})

    def to_jwk(self) -> dict:
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": _int_to_b64(self.n), "e": _int_to_b64(self.e)}


@dataclass(frozen=True)
class RSAPrivateKey:
    n: int
    e: int
    # repr=False: a key printed in a log line or traceback must not leak its secret parts.
    d: int = field(repr=False)
    p: int = field(repr=False)
    q: int = field(repr=False)
    dp: int = field(repr=False)
    dq: int = field(repr=False)
    qi: int = field(repr=False)

    @property
    def public_key(self) -> RSAPublicKey:
        return RSAPublicKey(self.n, self.e)

    @property
    def size_bits(self) -> int:
        return self.n.bit_length()

    @property
    def kid(self) -> str:
        return self.public_key.kid

    def to_jwk(self, private: bool = False) -> dict:
        """The public JWK, or with ``private=True`` also d, p, q, dp, dq, qi (RFC 7518 §6.3.2)."""
        jwk = self.public_key.to_jwk()
        if private:
            for name in ("d", "p", "q", "dp", "dq", "qi"):
                jwk[name] = _int_to_b64(getattr(self, name))
        return jwk


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 §3 thumbprint of an RSA JWK: SHA-256 over {"e","kty","n"}, sorted, no spaces."""
    _require_rsa_kty(jwk)
    for name in ("e", "n"):
        if not isinstance(jwk.get(name), str):
            raise MalformedToken(f"RSA JWK member '{name}' is missing or not a string.")
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]},
                           separators=_JSON_SEPARATORS, sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def rsa_public_key_from_jwk(jwk: dict) -> RSAPublicKey:
    """An RS256 verification key from a JWK, refusing keys we must not trust for RS256."""
    _require_rsa_kty(jwk)
    if jwk.get("use", "sig") != "sig":
        # RFC 7517 §4.2: an encryption key must not be used to check signatures.
        raise UnknownKey("The JWK's 'use' is not 'sig'; it is not a signature key.")
    if jwk.get("alg", "RS256") != "RS256":
        raise UnknownKey("The JWK is meant for another algorithm than RS256 (RFC 7517 §4.4).")
    key = RSAPublicKey(n=_jwk_int(jwk, "n"), e=_jwk_int(jwk, "e"))
    _check_public_numbers(key)
    return key


def rsa_private_key_from_jwk(jwk: dict) -> RSAPrivateKey:
    """A signing key from a private RSA JWK (the key cache); its numbers must agree."""
    public = rsa_public_key_from_jwk(jwk)
    key = RSAPrivateKey(public.n, public.e, *(_jwk_int(jwk, name)
                                              for name in ("d", "p", "q", "dp", "dq", "qi")))
    _check_private_numbers(key)
    return key


def jwks_document(keys) -> dict:
    """RFC 7517 §5 JWK Set of the PUBLIC parts of ``keys`` (private keys are reduced first)."""
    public = []
    for key in keys:
        if isinstance(key, RSAPrivateKey):
            key = key.public_key
        if not isinstance(key, RSAPublicKey):
            raise TypeError(f"jwks_document takes RSA key objects, not {type(key).__name__}")
        public.append(key.to_jwk())
    return {"keys": public}


def _require_rsa_kty(jwk: dict) -> None:
    if not isinstance(jwk, dict):
        raise MalformedToken("A JWK must be a JSON object.")
    if jwk.get("kty") != "RSA":
        raise UnknownKey("Only RSA JWKs (kty 'RSA') are supported.")


def _jwk_int(jwk: dict, name: str) -> int:
    """A JWK number member: RFC 7518 §2 Base64urlUInt, strict base64url of minimal octets."""
    text = jwk.get(name)
    if not isinstance(text, str) or not text:
        raise MalformedToken(f"RSA JWK member '{name}' is missing or not a string.")
    try:
        octets = b64url_decode(text)
    except ValueError as err:
        raise MalformedToken(f"RSA JWK member '{name}' is not valid base64url.") from err
    # "MUST utilize the minimum number of octets": one number, one spelling, so a key
    # padded with zeros cannot pass as another key with another thumbprint.
    if len(octets) > 1 and octets[0] == 0:
        raise MalformedToken(f"RSA JWK member '{name}' has a leading zero octet (RFC 7518 §2).")
    return int.from_bytes(octets, "big")


def _rsa_size_allowed(bits: int) -> bool:
    return MIN_RSA_BITS <= bits <= MAX_RSA_BITS


def _rsa_exponent_allowed(e: int) -> bool:
    """Odd (an even e has no inverse mod an even λ(n)), at least 3, below 2^32."""
    return e % 2 == 1 and MIN_RSA_EXPONENT <= e < RSA_EXPONENT_LIMIT


def _check_public_numbers(key: RSAPublicKey) -> None:
    if not _rsa_size_allowed(key.size_bits):
        raise UnknownKey(f"RSA key of {key.size_bits} bits refused: we accept "
                         f"{MIN_RSA_BITS} to {MAX_RSA_BITS} bits.")
    if not _rsa_exponent_allowed(key.e) or key.n % 2 == 0:
        raise UnknownKey("RSA key refused: its public exponent must be odd, at least "
                         f"{MIN_RSA_EXPONENT} and below 2^32, and its modulus odd.")


def _check_private_numbers(key: RSAPrivateKey) -> None:
    """Refuse a private key whose parts disagree (e.g. a corrupted cache file)."""
    consistent = (key.p * key.q == key.n
                  and key.dp == key.d % (key.p - 1)
                  and key.dq == key.d % (key.q - 1)
                  and (key.qi * key.q) % key.p == 1
                  # e·dp ≡ 1 (mod p−1) and e·dq ≡ 1 (mod q−1): exactly what CRT signing needs,
                  # checked with multiplications (a full pow with d held the GIL for ~25 ms).
                  and (key.e * key.dp) % (key.p - 1) == 1
                  and (key.e * key.dq) % (key.q - 1) == 1)
    if not consistent:
        raise MalformedToken(
            "The private RSA JWK's numbers are inconsistent (n, d, p, q, dp, dq, qi).")


# --- RSA key generation (RFC 8017 §3.1 and §3.2, FIPS 186 style checks) ------------------

def _small_primes(limit: int) -> list:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(sieve[i * i::i]))
    return [i for i, is_prime in enumerate(sieve) if is_prime]


# One gcd with this product does all the trial division in C, rejecting most candidates
# before the far costlier Miller-Rabin test.
_SMALL_PRIMES_PRODUCT = math.prod(_small_primes(SMALL_PRIME_LIMIT))


def _is_probable_prime(candidate: int, rounds: int = MILLER_RABIN_ROUNDS) -> bool:
    """Miller-Rabin with bases from ``secrets``: an attacker cannot pick composites that pass."""
    d, s = candidate - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(candidate - 3), d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, candidate)
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _random_prime(bits: int, e: int) -> int:
    """A random ``bits``-bit prime p with gcd(e, p - 1) = 1."""
    while True:
        # Top two bits set so that p * q has exactly 2 * bits bits; low bit set: odd.
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if (math.gcd(candidate, _SMALL_PRIMES_PRODUCT) == 1
                and math.gcd(e, candidate - 1) == 1
                and _is_probable_prime(candidate)):
            return candidate


def generate_rsa_key(bits: int = 2048, e: int = 65537) -> RSAPrivateKey:
    """A fresh RSA signing key (pure Python: takes around a second for 2048 bits)."""
    # Never make a key that rsa_public_key_from_jwk (and so our own JWKS cache) would refuse.
    if not _rsa_size_allowed(bits) or bits % 2:
        raise ValueError(f"RSA keys must have an even number of bits, {MIN_RSA_BITS} to "
                         f"{MAX_RSA_BITS}")
    if not _rsa_exponent_allowed(e):
        raise ValueError("the public exponent must be odd, at least 3 and below 2^32")
    half = bits // 2
    while True:
        p, q = _random_prime(half, e), _random_prime(half, e)
        # Close primes fall to Fermat factorisation; FIPS 186 asks |p - q| > 2^(bits/2 - 100).
        if abs(p - q) <= 1 << (half - 100):
            continue
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        if math.gcd(e, lam) == 1:
            d = pow(e, -1, lam)
            return RSAPrivateKey(n=p * q, e=e, d=d, p=p, q=q,
                                 dp=d % (p - 1), dq=d % (q - 1), qi=pow(q, -1, p))


# --- Signature primitives (RFC 8017 §8.2, §9.2; RFC 7518 §3.2, §3.3) --------------------

def _modulus_bytes(n: int) -> int:
    return (n.bit_length() + 7) // 8


def _emsa_pkcs1_v15_sha256(message: bytes, length: int) -> bytes:
    """RFC 8017 §9.2 EMSA-PKCS1-v1_5: 00 01 FF..FF 00 || DigestInfo(SHA-256) || hash."""
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if length < len(t) + 11:
        raise ValueError("RSA modulus too short for an RS256 signature")
    return b"\x00\x01" + b"\xff" * (length - len(t) - 3) + b"\x00" + t


def rs256_sign(key: RSAPrivateKey, message: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 signature with SHA-256 (RFC 8017 §8.2.1), computed with the CRT.

    DEMO-GRADE: pure-Python big-int arithmetic is NOT constant-time, so the time a
    signature takes leaks information about the private key (timing side channels). Fine
    for a local teaching server; never use this for production signing.

    The result is checked (s^e mod n == m) before it is returned: a fault during the CRT
    steps would otherwise release a signature from which p and q can be computed (the
    Boneh-DeMillo-Lipton fault attack).
    """
    length = _modulus_bytes(key.n)
    m = int.from_bytes(_emsa_pkcs1_v15_sha256(message, length), "big")
    s1 = pow(m, key.dp, key.p)
    s2 = pow(m, key.dq, key.q)
    s = s2 + key.q * ((key.qi * (s1 - s2)) % key.p)
    if pow(s, key.e, key.n) != m:
        raise SigningFailed()
    return s.to_bytes(length, "big")


def rs256_verify(key: RSAPublicKey, message: bytes, signature: bytes) -> bool:
    """RFC 8017 §8.2.2: True only if ``signature`` is exactly the RS256 signature of ``message``.

    The whole expected encoding is rebuilt and compared at once. Parsing the decrypted
    block instead (find the 00 separator, read the DigestInfo, compare the hash) is what
    let Bleichenbacher (2006) forge signatures for e = 3 keys from garbage after the hash.
    """
    length = _modulus_bytes(key.n)
    if len(signature) != length:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:  # RFC 8017 §5.2.2: a representative must be below the modulus
        return False
    encoded = pow(s, key.e, key.n).to_bytes(length, "big")
    return hmac.compare_digest(encoded, _emsa_pkcs1_v15_sha256(message, length))


def hs256_sign(secret: bytes, message: bytes) -> bytes:
    """HMAC-SHA-256 (RFC 7518 §3.2)."""
    return hmac.new(secret, message, hashlib.sha256).digest()


# --- Compact JWS / JWT (RFC 7515 §5, §7.1; RFC 7519 §7) ---------------------------------

def encode_jwt(claims: dict, key, alg: str = "RS256", headers: dict | None = None) -> str:
    """A compact JWS (RFC 7515 §5.1, §7.1) of ``claims``, signed with RS256 or HS256."""
    if not isinstance(claims, dict):
        raise TypeError("claims must be a dict")
    header = {"alg": alg, "typ": "JWT"}
    if alg == "RS256":
        if not isinstance(key, RSAPrivateKey):
            raise TypeError("RS256 signing needs an RSAPrivateKey")
        header["kid"] = key.kid
    elif alg == "HS256":
        _require_hs256_secret(key)
    else:
        raise ValueError(f"unsupported alg {alg!r}; use one of {SUPPORTED_ALGORITHMS}")
    extra = dict(headers or {})
    if "alg" in extra:
        raise ValueError("pass the algorithm as alg=, not in headers")
    header.update(extra)
    signing_input = f"{b64url_encode(json_bytes(header))}.{b64url_encode(json_bytes(claims))}"
    data = signing_input.encode("ascii")
    signature = rs256_sign(key, data) if alg == "RS256" else hs256_sign(key, data)
    return f"{signing_input}.{b64url_encode(signature)}"


def decode_unverified(token: str) -> tuple[dict, dict]:
    """Header and claims of a token, for DISPLAY only (the teaching pages show them).

    NEVER trust the result: nothing here checks the signature, so anyone can have written
    it. Decisions must use ``verify_jwt``. Raises MalformedToken.
    """
    _, raw = _split_compact(token)
    return _parse_json_object(raw[0], "header"), _parse_json_object(raw[1], "payload")


def verify_jws(token: str, *, algorithms, key=None, key_for_kid=None) -> tuple[dict, dict]:
    """Verify a compact JWS and return (header, claims): the only trusted way in.

    ``algorithms`` is the caller's allowlist (required; 'none' is refused outright). The
    key comes from the caller only: ``key``, or ``key_for_kid(kid or None)``. Header members
    jwk, jku, x5u and x5c are never used to pick a key: a token must not bring its own.
    Does NOT check exp, iss or aud: ``core.claims.verify_jwt`` does, for every caller.
    """
    allowed = _check_algorithms_argument(algorithms)
    if (key is None) == (key_for_kid is None):
        raise ValueError("pass exactly one of key= or key_for_kid=")
    parts, raw = _split_compact(token)
    header = _parse_json_object(raw[0], "header")
    alg = _check_header(header, allowed)
    verify_key = key if key is not None else _key_from_callback(key_for_kid, header)
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not _signature_matches(alg, verify_key, signing_input, raw[2]):
        raise BadSignature()
    # Parsed only now: we do not act on, or even parse, claims nobody has vouched for.
    return header, _parse_json_object(raw[1], "payload")


def _check_algorithms_argument(algorithms) -> tuple:
    """The caller's allowlist; mistakes in it are programming errors, raised at the call."""
    if isinstance(algorithms, str) or not isinstance(algorithms, (list, tuple)):
        raise TypeError("algorithms must be a list or tuple such as ['RS256']")
    if not algorithms:
        raise ValueError("algorithms must not be empty")
    for alg in algorithms:
        if isinstance(alg, str) and alg.lower() == "none":
            raise ValueError("'none' means unsigned tokens and is never accepted")
        if alg not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported algorithm {alg!r}; choose from {SUPPORTED_ALGORITHMS}")
    return tuple(algorithms)


def _split_compact(token: str) -> tuple[list, list]:
    """The three base64url parts of a compact JWS (RFC 7515 §7.1), as text and as bytes."""
    if not isinstance(token, str):
        raise MalformedToken("The token must be text.")
    if len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken(f"The token is longer than {MAX_TOKEN_CHARS} characters.")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("A compact JWS has exactly three parts separated by dots.")
    try:
        raw = [b64url_decode(part) for part in parts]
    except ValueError as err:
        raise MalformedToken("A token part is not strict unpadded base64url.") from err
    return parts, raw


def _reject_duplicates(pairs: list) -> dict:
    """RFC 7515 §5.2 step 4: duplicate names are refused, so no two parsers can disagree
    about which 'alg' (or 'kid', 'sub') a token has."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_json_object(data: bytes, what: str) -> dict:
    """A token part as a JSON object (RFC 7515 §5.2 steps 3 to 5; RFC 7519 §7.2 step 10)."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates,
                           parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise MalformedToken(f"The token {what} is not valid JSON.") from err
    if not isinstance(value, dict):
        raise MalformedToken(f"The token {what} is not a JSON object.")
    return value


def _check_header(header: dict, allowed: tuple) -> str:
    """The header's alg, if the caller allows it; no extensions are understood."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedToken("The token header has no 'alg' string (RFC 7515 §4.1.1).")
    if alg not in allowed:
        # Also where 'alg: none' ends: it is never in an allowlist.
        raise AlgorithmNotAllowed()
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient MUST reject critical extensions it does not implement.
        raise MalformedToken(
            "The token uses critical header extensions ('crit'); none are supported.")
    return alg


def _key_from_callback(key_for_kid, header: dict):
    """The caller's key for the header's kid. The kid is a hint only: never echoed back in
    errors (it is attacker-chosen text that would land in a WWW-Authenticate header)."""
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedToken("The token header's 'kid' is not a string.")
    found = key_for_kid(kid)
    if found is None:
        raise UnknownKey()
    return found


def _signature_matches(alg: str, key, signing_input: bytes, signature: bytes) -> bool:
    if alg == "RS256":
        return rs256_verify(_rsa_verification_key(key), signing_input, signature)
    return hmac.compare_digest(hs256_sign(_hs256_verification_secret(key), signing_input),
                               signature)


def _rsa_verification_key(key) -> RSAPublicKey:
    if isinstance(key, RSAPrivateKey):
        return key.public_key
    if not isinstance(key, RSAPublicKey):
        raise AlgorithmNotAllowed(
            "RS256 needs an RSA public key, but a different key is configured.")
    return key


def _hs256_verification_secret(key) -> bytes:
    """Refuse to use anything public as an HMAC secret.

    RS256 -> HS256 key confusion (CVE-2015-9235, the PyJWT advisory): if a verifier feeds
    its RSA *public* key into HMAC, an attacker who knows that public key (it is published
    in JWKS) can sign any token with alg HS256 and have it accepted.
    """
    if isinstance(key, (RSAPublicKey, RSAPrivateKey)):
        raise AlgorithmNotAllowed(
            "An HS256 token cannot be checked with an RSA key (key confusion).")
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, bytes) and key.lstrip().startswith(PUBLIC_KEY_MARKERS):
        raise AlgorithmNotAllowed(
            "The configured HS256 secret looks like a public key (key confusion).")
    _require_hs256_secret(key)
    return key


def _require_hs256_secret(key) -> None:
    if not isinstance(key, bytes):
        raise TypeError("HS256 needs a bytes secret")
    if len(key) < MIN_HS256_KEY_BYTES:
        raise ValueError(
            f"HS256 secrets must be at least {MIN_HS256_KEY_BYTES} bytes (RFC 7518 §3.2)")
