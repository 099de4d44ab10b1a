"""Certificates for the TLS faults, made at first use and cached.

Every certificate the ``tls cert=...`` faults serve is made here, lazily, into a
per-user folder: ``<mitmproxy confdir>/faults-certs/`` (``~/.mitmproxy`` by
default) unless a directory is given or ``FAULTS_CERT_DIR`` is set.  Never in
the package or the repo; every key file is created with mode 0600.

Two CAs matter:

* the **trusted CA** -- the CA the client already trusts.  The faults run
  inside mitmproxy, whose CA the client is told to trust (``SSL_CERT_FILE``,
  ``--cacert``...), so leaves that must fail for exactly *one* reason
  (``wrong_host``, ``expired``...) are issued by mitmproxy's CA:
  :meth:`CertFactory.from_mitmproxy_confdir` reads ``mitmproxy-ca.pem`` (key and
  certificate in one file).  Without one, a stand-in CA is made and persisted
  (``standin-ca.pem``); a client must then be told to trust
  :attr:`CertFactory.trusted_ca_pem`.
* the **rogue CA** -- made once with trustme and persisted, never trusted by a
  client; it signs the ``untrusted`` leaves and the untrusted client certificates.

Leaf kinds (:data:`KINDS`), and what Python's ``ssl`` (OpenSSL 3.0) reports
when it trusts only the trusted CA (see ``tests/unit/test_certs.py``):

===================  =====================================================
``valid``            handshake succeeds (control requests)
``untrusted``        leaf + rogue root served: 19 "self-signed certificate
                     in certificate chain"
``wrong_host``       62 "Hostname mismatch, certificate is not valid for ..."
``expired``          10 "certificate has expired"
``not_yet_valid``    9 "certificate is not yet valid"
``self_signed``      18 "self-signed certificate"
``incomplete_chain`` leaf signed by an intermediate of the trusted CA, served
                     without it: 20 "unable to get local issuer certificate"
``weak_key``         RSA-1024 leaf (cryptography refuses to make < 1024):
                     66 "EE certificate key too weak" at security level 2
``sha1``             leaf signed with SHA-1 by the trusted CA: 68 "CA
                     signature digest algorithm too weak"
===================  =====================================================

``weak_key`` and ``sha1`` leaves can only be *served* by OpenSSL at security
level 0, so :meth:`CertBundle.openssl_context` lowers it for those two kinds.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import ipaddress
import os
import re
import ssl
import threading
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto

__all__ = [
    "KINDS",
    "CLIENT_KINDS",
    "ENV_CERT_DIR",
    "CertBundle",
    "CertFactory",
    "LocalCA",
    "default_cert_dir",
]

ENV_CERT_DIR = "FAULTS_CERT_DIR"

#: the leaf kinds :meth:`CertFactory.leaf` makes
KINDS = (
    "valid",
    "untrusted",
    "wrong_host",
    "expired",
    "not_yet_valid",
    "self_signed",
    "incomplete_chain",
    "weak_key",
    "sha1",
)
#: the client certificate kinds :meth:`CertFactory.client_cert` makes
CLIENT_KINDS = ("trusted", "untrusted")

#: the name the ``wrong_host`` leaves are made for (another one if the client
#: asked for exactly this name)
WRONG_HOST = "wrong.host.invalid"
WRONG_HOST_ALT = "other-wrong.host.invalid"

#: kinds OpenSSL refuses to serve above security level 0
WEAK_KINDS = frozenset({"weak_key", "sha1"})
WEAK_RSA_BITS = 1024  # cryptography refuses to generate anything smaller

_ORG = "mitmproxy-faults"
_DAY = datetime.timedelta(days=1)
_LEAF_LIFETIME = 365 * _DAY
_CA_LIFETIME = 10 * 365 * _DAY
_MIN_REMAINING = 30 * _DAY  # reissue a cached "good" leaf this close to expiry

CERT_SUBDIR = "faults-certs"


def default_cert_dir(confdir: Path | str | None = None) -> Path:
    """``$FAULTS_CERT_DIR`` if set, else ``<confdir>/faults-certs`` (confdir:
    mitmproxy's, ``~/.mitmproxy`` by default). Per user and beside the CA whose
    leaves it caches; never inside the package (site-packages may be shared or
    read-only)."""
    env = os.environ.get(ENV_CERT_DIR)
    if env:
        return Path(env).expanduser()
    return Path(confdir or "~/.mitmproxy").expanduser() / CERT_SUBDIR


# --------------------------------------------------------------------------
# small helpers


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL
)


def _split_pem(data: bytes) -> tuple[list[bytes], list[bytes]]:
    """(certificate blocks, private key blocks) in a PEM file."""
    certs, keys = [], []
    for m in _PEM_BLOCK.finditer(data):
        label = m.group(1)
        block = m.group(0)
        if not block.endswith(b"\n"):
            block += b"\n"
        if label == b"CERTIFICATE":
            certs.append(block)
        elif label.endswith(b"PRIVATE KEY"):
            keys.append(block)
    return certs, keys


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()[:16]


def _write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``; the file is mode 0600 from
    the moment it exists (os.open with 0o600, never chmod afterwards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _create_once(path: Path, data: bytes) -> bool:
    """Create ``path`` (0600) with ``data`` unless it already exists.

    Uses a hard link of a finished temp file, so two processes racing to make
    the same CA end up using the same one.  Returns False if it existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # file system without hard links
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _normalize_host(host: str) -> str:
    if not isinstance(host, str) or not host.strip():
        raise ValueError(f"host must be a non-empty string, got {host!r}")
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host.isascii():
        return host
    import idna  # a trustme dependency

    if host.startswith("*."):
        return "*." + idna.encode(host[2:], uts46=True).decode("ascii")
    return idna.encode(host, uts46=True).decode("ascii")


def _file_name(host: str) -> str:
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,100}", host):
        return host
    digest = hashlib.sha256(host.encode()).hexdigest()[:10]
    return re.sub(r"[^a-z0-9._-]", "_", host)[:80] + "-" + digest


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _name(common_name: str | None, unit: str) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]),
    ]
    if common_name and len(common_name) <= 64:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
    except x509.ExtensionNotFound:  # e.g. an old mitmproxy CA
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())


def _new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# --- SHA-1 signatures ------------------------------------------------------
# cryptography's CertificateBuilder refuses SHA-1 ("Hash algorithm 'sha1' not
# supported for signatures"), but the raw RSA/ECDSA sign() still takes it.  So
# the certificate is built and signed with SHA-256, then its DER is rewritten:
# the signature AlgorithmIdentifier inside the TBSCertificate is swapped for the
# SHA-1 one and the TBS is signed again with SHA-1.

_ALG_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")  # sha1WithRSAEncryption
_ALG_SHA1_ECDSA = bytes.fromhex("300906072a8648ce3d0401")  # ecdsa-with-SHA1


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the element at ``pos``."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    return tag, pos, pos + length


def _sha1_signer(issuer_key):
    """(SHA-1 AlgorithmIdentifier DER, sign(data) -> signature) for a CA key."""
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return _ALG_SHA1_RSA, lambda data: issuer_key.sign(data, padding.PKCS1v15(), hashes.SHA1())
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        return _ALG_SHA1_ECDSA, lambda data: issuer_key.sign(data, ec.ECDSA(hashes.SHA1()))
    kind = type(issuer_key).__name__.replace("PrivateKey", "").lstrip("_")
    raise NotImplementedError(
        f"kind 'sha1' cannot be made with this trusted CA: its {kind} key has no "
        "SHA-1 signature scheme (only RSA and ECDSA CAs can sign with SHA-1)"
    )


def _resign_sha1(cert: x509.Certificate, issuer_key) -> x509.Certificate:
    alg, sign = _sha1_signer(issuer_key)
    tbs = cert.tbs_certificate_bytes
    tag, start, end = _der_tlv(tbs, 0)
    assert tag == 0x30 and end == len(tbs), "TBSCertificate is not one SEQUENCE"
    elements = []
    pos = start
    while pos < end:
        _, _, nxt = _der_tlv(tbs, pos)
        elements.append(tbs[pos:nxt])
        pos = nxt
    # version [0], serialNumber, signature AlgorithmIdentifier, issuer, ...
    idx = 2 if elements[0][0] == 0xA0 else 1
    assert elements[idx][0] == 0x30, "unexpected TBSCertificate layout"
    elements[idx] = alg
    body = b"".join(elements)
    new_tbs = b"\x30" + _der_len(len(body)) + body
    try:
        signature = sign(new_tbs)
    except UnsupportedAlgorithm as e:
        raise NotImplementedError(
            "kind 'sha1' cannot be made: the OpenSSL behind `cryptography` refuses "
            f"SHA-1 signatures altogether ({e})"
        ) from e
    bitstring = b"\x00" + signature
    cert_body = new_tbs + alg + b"\x03" + _der_len(len(bitstring)) + bitstring
    der = b"\x30" + _der_len(len(cert_body)) + cert_body
    out = x509.load_der_x509_certificate(der)
    if not isinstance(out.signature_hash_algorithm, hashes.SHA1):  # pragma: no cover
        raise NotImplementedError("SHA-1 re-signing produced an unexpected certificate")
    return out


def _sign(builder: x509.CertificateBuilder, key, sha1: bool = False) -> x509.Certificate:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        if sha1:
            _sha1_signer(key)  # raises NotImplementedError
        return builder.sign(key, None)  # these sign without a separate hash
    if not sha1:
        return builder.sign(key, hashes.SHA256())
    try:  # older cryptography still signs certificates with SHA-1 directly
        return builder.sign(key, hashes.SHA1())
    except (UnsupportedAlgorithm, ValueError):
        pass
    return _resign_sha1(builder.sign(key, hashes.SHA256()), key)


# --------------------------------------------------------------------------
# public types


@dataclasses.dataclass(frozen=True)
class LocalCA:
    """A CA's certificate and key, as loaded or made by the factory."""

    cert: x509.Certificate
    key: object  # a cryptography private key
    cert_path: Path | None = None  # certificate only (no key), mode 0644

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of the SHA-256 fingerprint (names cache folders)."""
        return _fingerprint(self.cert)


@dataclasses.dataclass(frozen=True)
class CertBundle:
    """What a TLS server presents for one fault: a chain and its key.

    ``cert_chain_pem`` is exactly what the server sends (leaf first, then the
    intermediates it serves); ``omitted_chain_pem`` what it deliberately does
    not send (the intermediate, for ``incomplete_chain``).  ``cert_path`` holds
    ``cert_chain_pem`` and ``key_path`` ``key_pem`` (mode 0600)."""

    kind: str
    host: str
    cert_chain_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path
    omitted_chain_pem: bytes = b""

    @property
    def certificates(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.cert_chain_pem)

    @property
    def leaf_cert(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def needs_security_level_0(self) -> bool:
        return self.kind in WEAK_KINDS

    def openssl_context(
        self,
        *,
        client_ca_pem: bytes | None = None,
        method: int = SSL.TLS_SERVER_METHOD,
    ) -> SSL.Context:
        """A new server-side pyOpenSSL ``SSL.Context`` serving this chain.

        For mitmproxy's ``tls_start_client`` hook: ``SSL.Connection(ctx)``,
        ``set_accept_state()``.  A new context each call, so the caller may add
        ALPN callbacks or version limits.  For ``weak_key``/``sha1`` the
        context runs at ``@SECLEVEL=0`` (OpenSSL refuses to load them
        otherwise); if you call ``set_cipher_list`` yourself, keep that suffix.
        With ``client_ca_pem`` the context demands a client certificate issued
        by that CA (handshake fails without one)."""
        ctx = SSL.Context(method)
        if self.needs_security_level_0:
            ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        certs = self.certificates
        ctx.use_certificate(certs[0])
        for extra in certs[1:]:
            ctx.add_extra_chain_cert(extra)
        ctx.use_privatekey(serialization.load_pem_private_key(self.key_pem, password=None))
        ctx.check_privatekey()
        if client_ca_pem is not None:
            _require_client_certs(ctx, client_ca_pem)
        return ctx

    # alias: both names give the pyOpenSSL server context
    ssl_context = openssl_context

    def python_ssl_context(self, *, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
        """The same as a server-side stdlib ``ssl.SSLContext`` (e.g. for a
        plain test server or an upstream)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self.needs_security_level_0:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.load_cert_chain(self.cert_path, self.key_path)
        if client_ca_pem is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
        return ctx


def _require_client_certs(ctx: SSL.Context, client_ca_pem: bytes) -> None:
    store = ctx.get_cert_store()
    for cert in x509.load_pem_x509_certificates(client_ca_pem):
        store.add_cert(crypto.X509.from_cryptography(cert))  # trusted for verification
        ctx.add_client_ca(cert)  # named in the CertificateRequest
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)


# --------------------------------------------------------------------------
# the factory


class CertFactory:
    """Makes and caches the certificates of the TLS faults.

    ``directory``: where CAs and leaves are kept (``default_cert_dir()`` when
    None).  ``trusted_ca_cert_pem``/``trusted_ca_key_pem``: the CA the client
    trusts (mitmproxy's); without them a stand-in CA is made and persisted.

    All methods are thread-safe (one lock around issuance); a cached bundle is
    returned without touching the disk again."""

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        trusted_ca_cert_pem: bytes | None = None,
        trusted_ca_key_pem: bytes | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cert_dir()
        if (trusted_ca_cert_pem is None) != (trusted_ca_key_pem is None):
            raise ValueError("give both trusted_ca_cert_pem and trusted_ca_key_pem, or neither")
        self._lock = threading.RLock()
        self._leaves: dict[tuple[str, str], CertBundle] = {}
        self._rogue: LocalCA | None = None
        self._client_ca: LocalCA | None = None
        self._intermediate: LocalCA | None = None
        self._trusted: LocalCA | None = None
        if trusted_ca_cert_pem is not None:
            self._trusted = self._load_given_ca(trusted_ca_cert_pem, trusted_ca_key_pem)

    @classmethod
    def from_mitmproxy_confdir(
        cls,
        confdir: Path | str | None = None,
        directory: Path | str | None = None,
    ) -> CertFactory:
        """A factory issuing from mitmproxy's CA, read from
        ``<confdir>/mitmproxy-ca.pem`` (private key + certificate; confdir
        defaults to ``~/.mitmproxy``, i.e. mitmproxy's ``confdir`` option).
        ``directory`` defaults to ``default_cert_dir(confdir)``."""
        confdir = Path(confdir or "~/.mitmproxy").expanduser()
        data = (confdir / "mitmproxy-ca.pem").read_bytes()
        certs, keys = _split_pem(data)
        if not certs or not keys:
            raise ValueError(f"{confdir / 'mitmproxy-ca.pem'} must hold a private key and a certificate")
        return cls(directory or default_cert_dir(confdir), trusted_ca_cert_pem=certs[0], trusted_ca_key_pem=keys[0])

    # -- CAs ---------------------------------------------------------------

    @staticmethod
    def _load_given_ca(cert_pem: bytes, key_pem: bytes) -> LocalCA:
        certs, _ = _split_pem(cert_pem)
        _, keys = _split_pem(key_pem)
        if not certs:
            raise ValueError("trusted_ca_cert_pem holds no certificate")
        if not keys:
            raise ValueError("trusted_ca_key_pem holds no private key")
        cert = x509.load_pem_x509_certificate(certs[0])
        key = serialization.load_pem_private_key(keys[0], password=None)
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise ValueError("the trusted CA's key does not belong to its certificate")
        return LocalCA(cert, key)

    def _persisted_ca(self, name: str, make) -> LocalCA:
        """Load ``<dir>/<name>.pem`` (key + cert, 0600) or make it once."""
        combined = self.directory / f"{name}.pem"
        public = self.directory / f"{name}.crt"
        for _ in range(3):
            if combined.exists():
                ca = self._read_ca(combined)
                if ca is not None:
                    if not public.exists() or public.read_bytes() != ca.cert_pem:
                        _write_public(public, ca.cert_pem)
                    return dataclasses.replace(ca, cert_path=public)
                combined.unlink(missing_ok=True)  # unreadable or expiring: replace it
            cert, key = make()
            _create_once(combined, _key_pem(key) + _cert_pem(cert))
        raise RuntimeError(f"could not create {combined}")

    @staticmethod
    def _read_ca(path: Path) -> LocalCA | None:
        try:
            certs, keys = _split_pem(path.read_bytes())
            cert = x509.load_pem_x509_certificate(certs[0])
            key = serialization.load_pem_private_key(keys[0], password=None)
        except (OSError, IndexError, ValueError, TypeError):
            return None
        if cert.not_valid_after_utc < _now() + _MIN_REMAINING:
            return None
        return LocalCA(cert, key)

    @staticmethod
    def _trustme_ca(unit: str):
        ca = trustme.CA(organization_name=_ORG, organization_unit_name=unit)
        cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        return cert, key

    def _ca_once(self, attr: str, name: str, unit: str) -> LocalCA:
        """The CA kept in ``attr``: loaded from (or made into) this directory once."""
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, self._persisted_ca(name, lambda: self._trustme_ca(unit)))
            return getattr(self, attr)

    @property
    def rogue_ca(self) -> LocalCA:
        """The CA no client trusts; made once per directory and reused."""
        return self._ca_once("_rogue", "rogue-ca", "Rogue CA (not trusted by clients)")

    @property
    def trusted_ca(self) -> LocalCA:
        """The CA the client trusts: the given one, or a persisted stand-in."""
        return self._ca_once("_trusted", "standin-ca", "Stand-in trusted CA")

    @property
    def trusted_ca_pem(self) -> bytes:
        return self.trusted_ca.cert_pem

    @property
    def intermediate_ca(self) -> LocalCA:
        """An intermediate CA under the trusted CA (for ``incomplete_chain``)."""
        with self._lock:
            if self._intermediate is None:
                parent = self.trusted_ca
                self._intermediate = self._persisted_ca(
                    f"ca-{parent.fingerprint}/intermediate-ca",
                    lambda: self._make_intermediate(parent),
                )
            return self._intermediate

    @staticmethod
    def _make_intermediate(parent: LocalCA):
        key = _new_ec_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name("mitmproxy-faults intermediate CA", "Intermediate (never served)"))
            .issuer_name(parent.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(min(now + _CA_LIFETIME, parent.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(_aki(parent.cert), critical=False)
        )
        return _sign(builder, parent.key), key

    @property
    def client_ca_cert(self) -> LocalCA:
        return self._ca_once("_client_ca", "client-ca", "Client CA (for mTLS faults)")

    def client_ca(self) -> bytes:
        """PEM of the CA a server requiring client certificates should trust
        (the issuer of ``client_cert('trusted')``)."""
        return self.client_ca_cert.cert_pem

    @property
    def client_ca_path(self) -> Path:
        return self.client_ca_cert.cert_path

    # -- leaves ------------------------------------------------------------

    def leaf(self, host: str, kind: str) -> CertBundle:
        """The certificate for ``host`` of the given fault ``kind`` (one of
        :data:`KINDS`), cached in memory and under the directory."""
        if kind not in KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}; one of {', '.join(KINDS)}")
        return self._get(kind, host)

    def client_cert(self, kind: str = "trusted", name: str = "client") -> CertBundle:
        """A client certificate for mTLS: ``trusted`` (issued by
        :meth:`client_ca`) or ``untrusted`` (issued by the rogue CA)."""
        if kind not in CLIENT_KINDS:
            raise ValueError(f"unknown client certificate kind {kind!r}; one of {CLIENT_KINDS}")
        return self._get(f"client_{kind}", name)

    def _get(self, kind: str, host: str) -> CertBundle:
        host = _normalize_host(host)
        with self._lock:
            bundle = self._leaves.get((kind, host))
            if bundle is not None and self._fresh(kind, bundle.leaf_cert):
                return bundle
            bundle = self._load_or_issue(kind, host)
            self._leaves[(kind, host)] = bundle
            return bundle

    def _issuer_for(self, kind: str) -> LocalCA | None:
        if kind in ("untrusted", "client_untrusted"):
            return self.rogue_ca
        if kind == "self_signed":
            return None
        if kind == "incomplete_chain":
            return self.intermediate_ca
        if kind == "client_trusted":
            return self.client_ca_cert
        return self.trusted_ca

    def _paths(self, kind: str, host: str, issuer: LocalCA | None) -> tuple[Path, Path]:
        folder = self.directory / "leaves" / (issuer.fingerprint if issuer else "self-signed") / kind
        stem = _file_name(host)
        return folder / f"{stem}.crt", folder / f"{stem}.key"

    @staticmethod
    def _fresh(kind: str, cert: x509.Certificate) -> bool:
        now = _now()
        if kind == "expired":
            return cert.not_valid_after_utc < now
        if kind == "not_yet_valid":
            return cert.not_valid_before_utc > now + _MIN_REMAINING
        return cert.not_valid_before_utc <= now and cert.not_valid_after_utc > now + _MIN_REMAINING

    def _load_or_issue(self, kind: str, host: str) -> CertBundle:
        issuer = self._issuer_for(kind)
        cert_path, key_path = self._paths(kind, host, issuer)
        omitted = issuer.cert_pem if kind == "incomplete_chain" else b""
        cached = self._load(kind, cert_path, key_path)
        if cached is not None:
            chain_pem, key_pem = cached
        else:
            chain, key = self._issue(kind, host, issuer)
            chain_pem = b"".join(_cert_pem(c) for c in chain)
            key_pem = _key_pem(key)
            _write_private(key_path, key_pem)
            _write_public(cert_path, chain_pem)
        return CertBundle(kind, host, chain_pem, key_pem, cert_path, key_path, omitted)

    def _load(self, kind: str, cert_path: Path, key_path: Path) -> tuple[bytes, bytes] | None:
        try:
            chain_pem = cert_path.read_bytes()
            key_pem = key_path.read_bytes()
            certs = x509.load_pem_x509_certificates(chain_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (OSError, ValueError, TypeError):
            return None
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if certs[0].public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
            return None  # two processes raced; make a new pair
        if not self._fresh(kind, certs[0]):
            return None
        return chain_pem, key_pem

    def _issue(self, kind: str, host: str, issuer: LocalCA | None):
        """(chain to serve, private key) for a new leaf."""
        now = _now()
        not_before, not_after = now - _DAY, now + _LEAF_LIFETIME
        names = [host]
        eku = [ExtendedKeyUsageOID.SERVER_AUTH]
        key = _new_ec_key()
        if kind == "wrong_host":
            names = [WRONG_HOST if host != WRONG_HOST else WRONG_HOST_ALT]
        elif kind == "expired":
            not_before, not_after = now - 60 * _DAY, now - 30 * _DAY
        elif kind == "not_yet_valid":
            not_before, not_after = now + 365 * _DAY, now + 730 * _DAY
        elif kind == "weak_key":
            key = rsa.generate_private_key(public_exponent=65537, key_size=WEAK_RSA_BITS)
        elif kind.startswith("client_"):
            eku = [ExtendedKeyUsageOID.CLIENT_AUTH]

        subject = _name(names[0], f"fault: {kind}")
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer is not None:
            # A self-signed leaf gets no KeyUsage: one without keyCertSign would
            # make OpenSSL stop treating it as self-signed ("unable to get local
            # issuer" instead of "self-signed certificate").
            builder = builder.add_extension(_aki(issuer.cert), critical=False).add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
        cert = _sign(builder, issuer.key if issuer else key, sha1=(kind == "sha1"))
        chain = [cert]
        if kind == "untrusted":
            chain.append(issuer.cert)  # like badssl's untrusted-root: the rogue root is served
        return chain, key
