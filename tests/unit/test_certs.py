"""faults.certs: every TLS-fault certificate, served by a real TLS server and
checked by Python's ssl client that trusts only the "mitmproxy" CA."""

from __future__ import annotations

import datetime
import socket
import ssl
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from OpenSSL import SSL

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # pragma: no cover - depends on how pytest is run
    sys.path.insert(0, str(REPO))

from faults import certs  # noqa: E402
from faults.certs import KINDS, CertBundle, CertFactory  # noqa: E402

HOST = "fault.test"

# What Python's ssl (OpenSSL 3.0, default context = security level 2) reports
# for each kind: (verify_code, verify_message); None = handshake succeeds.
EXPECTED = {
    "valid": None,
    "untrusted": (19, "self-signed certificate in certificate chain"),
    "wrong_host": (62, f"Hostname mismatch, certificate is not valid for '{HOST}'."),
    "expired": (10, "certificate has expired"),
    "not_yet_valid": (9, "certificate is not yet valid"),
    "self_signed": (18, "self-signed certificate"),
    "incomplete_chain": (20, "unable to get local issuer certificate"),
    "weak_key": (66, "EE certificate key too weak"),
    "sha1": (68, "CA signature digest algorithm too weak"),
}
assert set(EXPECTED) == set(KINDS)


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def mitm_ca() -> trustme.CA:
    """A mitmproxy-like CA: RSA 2048, like the one mitmproxy makes."""
    return trustme.CA(key_type=trustme.KeyType.RSA)


@pytest.fixture(scope="module")
def confdir(tmp_path_factory, mitm_ca) -> Path:
    d = tmp_path_factory.mktemp("mitmproxy-confdir")
    # mitmproxy-ca.pem = private key + certificate, as mitmproxy writes it
    (d / "mitmproxy-ca.pem").write_bytes(mitm_ca.private_key_pem.bytes() + mitm_ca.cert_pem.bytes())
    return d


@pytest.fixture(scope="module")
def factory(tmp_path_factory, confdir) -> CertFactory:
    return CertFactory.from_mitmproxy_confdir(confdir, tmp_path_factory.mktemp("generated"))


# --------------------------------------------------------------------------
# a real TLS server and Python's ssl client


def _blocking_with_timeout(sock: socket.socket, seconds: int = 5) -> None:
    sock.setblocking(True)  # pyOpenSSL wants a blocking socket ...
    tv = struct.pack("ll", seconds, 0)  # ... that still cannot hang the test
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)


class Server:
    """Serves one TLS connection on 127.0.0.1:<random>, in a thread, with
    pyOpenSSL (bundle.openssl_context(), as the TLS fault does in mitmproxy)
    or Python's ssl (bundle.python_ssl_context())."""

    def __init__(self, bundle: CertBundle, impl: str = "pyopenssl", client_ca_pem: bytes | None = None):
        self.impl = impl
        if impl == "pyopenssl":
            self.ctx = bundle.openssl_context(client_ca_pem=client_ca_pem)
        else:
            self.ctx = bundle.python_ssl_context(client_ca_pem=client_ca_pem)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.error: Exception | None = None
        self.handshake_ok = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            raw, _ = self.listener.accept()
        except OSError as e:
            self.error = e
            return
        with raw:
            _blocking_with_timeout(raw)
            try:
                if self.impl == "pyopenssl":
                    conn = SSL.Connection(self.ctx, raw)
                    conn.set_accept_state()
                    conn.do_handshake()
                    self.handshake_ok = True
                    conn.sendall(b"hello")
                    conn.shutdown()
                else:
                    tls = self.ctx.wrap_socket(raw, server_side=True)
                    self.handshake_ok = True
                    tls.sendall(b"hello")
                    tls.close()
            except Exception as e:  # noqa: BLE001 - recorded for the test
                self.error = e

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(5)
        self.listener.close()


def client_context(cadata: bytes, *, seclevel: int | None = None, cert: CertBundle | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=cadata.decode("ascii"))
    if seclevel is not None:
        ctx.set_ciphers(f"DEFAULT:@SECLEVEL={seclevel}")
    if cert is not None:
        ctx.load_cert_chain(cert.cert_path, cert.key_path)
    return ctx


def connect(port: int, ctx: ssl.SSLContext, server_hostname: str = HOST) -> bytes:
    """Handshake (verifying the server) and read the greeting."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.recv(5)


# --------------------------------------------------------------------------
# every kind, against Python's ssl


@pytest.mark.parametrize("impl", ["pyopenssl", "stdlib"])
@pytest.mark.parametrize("kind", KINDS)
def test_client_reports_exactly_the_injected_problem(factory, mitm_ca, kind, impl):
    bundle = factory.leaf(HOST, kind)
    ctx = client_context(mitm_ca.cert_pem.bytes())  # trusts the mitmproxy CA only
    with Server(bundle, impl) as server:
        if EXPECTED[kind] is None:
            assert connect(server.port, ctx) == b"hello"
            return
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            connect(server.port, ctx)
    code, message = EXPECTED[kind]
    assert (info.value.verify_code, info.value.verify_message) == (code, message)
    assert f"certificate verify failed: {message}" in str(info.value)
    assert not server.handshake_ok  # the client aborted the handshake


# Each failure disappears once the client accepts exactly that one problem:
# proof that the certificate is otherwise sound (no second hidden fault).
def _accept_only_that_problem(kind, factory, mitm_ca, bundle):
    trusted = mitm_ca.cert_pem.bytes()
    if kind == "untrusted":
        return client_context(factory.rogue_ca.cert_pem), HOST
    if kind == "wrong_host":
        return client_context(trusted), certs.WRONG_HOST
    if kind == "self_signed":
        return client_context(bundle.cert_chain_pem), HOST
    if kind == "incomplete_chain":
        return client_context(trusted + bundle.omitted_chain_pem), HOST
    if kind in ("weak_key", "sha1"):
        return client_context(trusted, seclevel=0), HOST
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("valid", "expired", "not_yet_valid")])
def test_nothing_else_is_wrong_with_the_certificate(factory, mitm_ca, kind):
    bundle = factory.leaf(HOST, kind)
    ctx, name = _accept_only_that_problem(kind, factory, mitm_ca, bundle)
    with Server(bundle) as server:
        assert connect(server.port, ctx, name) == b"hello"


def test_expiry_kinds_differ_from_valid_only_in_dates(factory):
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = factory.leaf(HOST, "valid").leaf_cert
    expired = factory.leaf(HOST, "expired").leaf_cert
    future = factory.leaf(HOST, "not_yet_valid").leaf_cert
    assert valid.not_valid_before_utc < now < valid.not_valid_after_utc
    assert expired.not_valid_after_utc < now
    assert future.not_valid_before_utc > now
    for cert in (expired, future):
        assert cert.issuer == valid.issuer
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [HOST]


def test_weak_key_and_sha1_are_what_they_claim(factory, mitm_ca):
    weak = factory.leaf(HOST, "weak_key").leaf_cert
    assert isinstance(weak.public_key(), rsa.RSAPublicKey)
    assert weak.public_key().key_size == certs.WEAK_RSA_BITS == 1024
    sha1 = factory.leaf(HOST, "sha1").leaf_cert
    assert isinstance(sha1.signature_hash_algorithm, hashes.SHA1)
    assert sha1.issuer == x509.load_pem_x509_certificate(mitm_ca.cert_pem.bytes()).subject
    # every other leaf uses P-256 keys and SHA-256 signatures
    for kind in ("valid", "untrusted", "wrong_host", "incomplete_chain", "self_signed"):
        cert = factory.leaf(HOST, kind).leaf_cert
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_weak_key_passes_at_security_level_1(factory, mitm_ca):
    """RSA-1024 is 80-bit security: level 1 accepts it, level 2 (the default
    of Python, curl and most distributions) rejects it.  Go (k6) accepts
    1024-bit RSA as well; cryptography refuses to generate 512 bits."""
    with Server(factory.leaf(HOST, "weak_key")) as server:
        assert connect(server.port, client_context(mitm_ca.cert_pem.bytes(), seclevel=1)) == b"hello"


def test_sha1_rejected_even_at_security_level_1(factory, mitm_ca):
    with Server(factory.leaf(HOST, "sha1")) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            connect(server.port, client_context(mitm_ca.cert_pem.bytes(), seclevel=1))
    assert info.value.verify_code == 68


def test_chains_served(factory):
    def count(kind):
        return len(factory.leaf(HOST, kind).certificates)

    assert count("untrusted") == 2  # leaf + rogue root (like badssl untrusted-root)
    assert factory.leaf(HOST, "untrusted").certificates[1] == factory.rogue_ca.cert
    assert count("incomplete_chain") == 1
    omitted = x509.load_pem_x509_certificate(factory.leaf(HOST, "incomplete_chain").omitted_chain_pem)
    assert omitted == factory.intermediate_ca.cert
    assert factory.leaf(HOST, "incomplete_chain").leaf_cert.issuer == omitted.subject
    for kind in ("valid", "wrong_host", "expired", "not_yet_valid", "self_signed", "weak_key", "sha1"):
        assert count(kind) == 1, kind


# --------------------------------------------------------------------------
# a real mitmproxy CA, an EC CA, IP addresses


def test_real_mitmproxy_confdir(tmp_path):
    from mitmproxy.certs import CertStore

    confdir = tmp_path / "confdir"
    confdir.mkdir()
    CertStore.from_store(confdir, "mitmproxy", 2048)
    f = CertFactory.from_mitmproxy_confdir(confdir, tmp_path / "gen")
    ca_pem = (confdir / "mitmproxy-ca-cert.pem").read_bytes()
    assert f.trusted_ca_pem == ca_pem
    for kind in ("valid", "expired", "incomplete_chain", "sha1"):
        with Server(f.leaf("real.test", kind)) as server:
            if kind == "valid":
                assert connect(server.port, client_context(ca_pem), "real.test") == b"hello"
                continue
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                connect(server.port, client_context(ca_pem), "real.test")
            assert info.value.verify_code == EXPECTED[kind][0]


def test_sha1_with_an_ecdsa_ca(tmp_path):
    ca = trustme.CA()  # ECDSA P-256: the ecdsa-with-SHA1 path
    f = CertFactory(tmp_path, trusted_ca_cert_pem=ca.cert_pem.bytes(), trusted_ca_key_pem=ca.private_key_pem.bytes())
    bundle = f.leaf(HOST, "sha1")
    assert isinstance(bundle.leaf_cert.signature_hash_algorithm, hashes.SHA1)
    with Server(bundle) as server:  # the signature is genuine: level 0 accepts it
        assert connect(server.port, client_context(ca.cert_pem.bytes(), seclevel=0)) == b"hello"
    with Server(bundle) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            connect(server.port, client_context(ca.cert_pem.bytes()))
    assert info.value.verify_code == 68


def test_ip_address_host(factory, mitm_ca):
    bundle = factory.leaf("127.0.0.1", "valid")
    san = bundle.leaf_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    with Server(bundle) as server:
        assert connect(server.port, client_context(mitm_ca.cert_pem.bytes()), "127.0.0.1") == b"hello"


def test_sha1_impossible_raises_not_implemented(tmp_path, monkeypatch, mitm_ca):
    """If the OpenSSL behind cryptography stops signing with SHA-1 at all, the
    kind fails with a clear NotImplementedError and leaves nothing behind."""
    from cryptography.exceptions import UnsupportedAlgorithm

    f = CertFactory(tmp_path, trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=mitm_ca.private_key_pem.bytes())
    real = certs._sha1_signer

    def refusing(key):
        alg, _ = real(key)

        def sign(data):
            raise UnsupportedAlgorithm("sha1 is disabled")

        return alg, sign

    monkeypatch.setattr(certs, "_sha1_signer", refusing)
    with pytest.raises(NotImplementedError, match="refuses SHA-1 signatures"):
        f.leaf(HOST, "sha1")
    assert not list(tmp_path.glob("leaves/*/sha1/*"))  # nothing half-written
    assert f.leaf(HOST, "valid")  # the other kinds still work


def test_sha1_with_an_ed25519_ca_is_not_implemented(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "ed25519 CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    f = CertFactory(tmp_path, trusted_ca_cert_pem=cert.public_bytes(serialization.Encoding.PEM),
                    trusted_ca_key_pem=key_pem)
    assert f.leaf(HOST, "valid").leaf_cert.issuer == name  # Ed25519 issuance works ...
    with pytest.raises(NotImplementedError, match="Ed25519"):  # ... SHA-1 cannot
        f.leaf(HOST, "sha1")


# --------------------------------------------------------------------------
# client certificates (mTLS)


@pytest.mark.parametrize("impl", ["pyopenssl", "stdlib"])
def test_client_certificates(factory, mitm_ca, impl):
    server_bundle = factory.leaf(HOST, "valid")
    trusted_ca = mitm_ca.cert_pem.bytes()
    client_ca = factory.client_ca()
    assert factory.client_ca_path.read_bytes() == client_ca

    # a trusted client certificate: accepted
    with Server(server_bundle, impl, client_ca_pem=client_ca) as server:
        ctx = client_context(trusted_ca, cert=factory.client_cert("trusted"))
        assert connect(server.port, ctx) == b"hello"
    assert server.handshake_ok and server.error is None

    # an untrusted one (rogue CA) and none at all: refused by the server. With
    # TLS 1.3 the client's handshake completes first; the alert comes on read.
    for cert, alert in ((factory.client_cert("untrusted"), "ALERT_UNKNOWN_CA"),
                        (None, "ALERT_CERTIFICATE_REQUIRED")):
        with Server(server_bundle, impl, client_ca_pem=client_ca) as server:
            with pytest.raises(ssl.SSLError) as info:
                connect(server.port, client_context(trusted_ca, cert=cert))
        assert alert in info.value.reason, info.value
        assert not server.handshake_ok and server.error is not None


def test_client_cert_kinds(factory):
    trusted = factory.client_cert("trusted").leaf_cert
    untrusted = factory.client_cert("untrusted").leaf_cert
    assert trusted.issuer == factory.client_ca_cert.cert.subject
    assert untrusted.issuer == factory.rogue_ca.cert.subject
    eku = trusted.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku
    with pytest.raises(ValueError):
        factory.client_cert("maybe")


# --------------------------------------------------------------------------
# files, caching, locking


def _key_files(directory: Path):
    return [p for p in directory.rglob("*") if p.is_file() and p.suffix in (".key", ".pem")]


def test_key_files_are_0600_and_certs_have_no_keys(tmp_path, mitm_ca):
    f = CertFactory(tmp_path, trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=mitm_ca.private_key_pem.bytes())
    for kind in KINDS:
        f.leaf(HOST, kind)
    f.client_cert("trusted")
    f.client_cert("untrusted")
    keys = _key_files(tmp_path)
    assert len(keys) >= len(KINDS) + 2 + 3  # leaves, client certs, rogue/intermediate/client CA
    for p in keys:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert b"PRIVATE KEY" in p.read_bytes()
    for p in tmp_path.rglob("*.crt"):
        assert b"PRIVATE KEY" not in p.read_bytes(), p
    bundle = f.leaf(HOST, "valid")
    assert bundle.key_path.read_bytes() == bundle.key_pem
    assert bundle.cert_path.read_bytes() == bundle.cert_chain_pem
    assert not list(tmp_path.rglob("*.tmp"))


def test_second_factory_reuses_rogue_ca_and_leaves(tmp_path, mitm_ca):
    kw = dict(trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=mitm_ca.private_key_pem.bytes())
    a = CertFactory(tmp_path, **kw)
    rogue = a.rogue_ca.cert_pem
    leaves = {kind: a.leaf(HOST, kind) for kind in KINDS}
    assert a.leaf(HOST, "expired") is leaves["expired"]  # memory cache
    b = CertFactory(tmp_path, **kw)
    assert b.rogue_ca.cert_pem == rogue
    assert b.rogue_ca.cert_path.read_bytes() == rogue
    assert b.intermediate_ca.cert == a.intermediate_ca.cert
    for kind in KINDS:  # disk cache
        again = b.leaf(HOST, kind)
        assert (again.cert_chain_pem, again.key_pem) == (leaves[kind].cert_chain_pem, leaves[kind].key_pem)
    # another trusted CA: the rogue CA stays, the leaves it signs do not
    other = trustme.CA(key_type=trustme.KeyType.RSA)
    c = CertFactory(tmp_path, trusted_ca_cert_pem=other.cert_pem.bytes(), trusted_ca_key_pem=other.private_key_pem.bytes())
    assert c.rogue_ca.cert_pem == rogue
    assert c.leaf(HOST, "untrusted").cert_chain_pem == leaves["untrusted"].cert_chain_pem
    assert c.leaf(HOST, "valid").leaf_cert.issuer != leaves["valid"].leaf_cert.issuer


def test_mismatched_pair_on_disk_is_reissued(tmp_path, mitm_ca):
    kw = dict(trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=mitm_ca.private_key_pem.bytes())
    first = CertFactory(tmp_path, **kw).leaf(HOST, "valid")
    other = CertFactory(tmp_path, **kw).leaf("other.test", "valid")
    first.key_path.write_bytes(other.key_pem)  # e.g. two processes raced
    again = CertFactory(tmp_path, **kw).leaf(HOST, "valid")
    assert again.cert_chain_pem != first.cert_chain_pem
    again.openssl_context()  # check_privatekey() passes


def test_hosts_are_cached_separately_and_normalized(factory):
    a = factory.leaf("A.Example.TEST.", "valid")
    assert a is factory.leaf("a.example.test", "valid")
    assert a.host == "a.example.test"
    b = factory.leaf("b.example.test", "valid")
    assert a.cert_path != b.cert_path
    wild = factory.leaf("*.wild.test", "valid")
    assert wild.cert_path.parent == a.cert_path.parent and "*" not in wild.cert_path.name
    wrong = factory.leaf(certs.WRONG_HOST, "wrong_host").leaf_cert
    san = wrong.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [certs.WRONG_HOST_ALT]
    with pytest.raises(ValueError, match="unknown certificate kind"):
        factory.leaf(HOST, "revoked")
    with pytest.raises(ValueError):
        factory.leaf("", "valid")


def test_concurrent_issuance_gives_one_bundle(tmp_path, mitm_ca):
    f = CertFactory(tmp_path, trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=mitm_ca.private_key_pem.bytes())
    results = []
    threads = [threading.Thread(target=lambda: results.append(f.leaf("race.test", "valid"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_issuance_makes_no_rsa_key_but_weak_keys(factory, monkeypatch):
    """What keeps issuance fast, without timing it: every leaf and lazily made CA gets an EC
    key (microseconds); only ``weak_key`` makes an RSA key (much slower to generate)."""
    rsa_made = []
    real = rsa.generate_private_key
    monkeypatch.setattr(certs.rsa, "generate_private_key", lambda *a, **k: rsa_made.append(1) or real(*a, **k))
    for i, kind in enumerate(KINDS):
        rsa_made.clear()
        factory.leaf(f"fast{i}.test", kind)
        assert len(rsa_made) == (kind == "weak_key"), kind


def test_stand_in_ca_without_a_trusted_ca(tmp_path):
    f = CertFactory(tmp_path)
    assert not (tmp_path / "standin-ca.pem").exists()  # made lazily
    bundle = f.leaf(HOST, "valid")
    assert stat.S_IMODE((tmp_path / "standin-ca.pem").stat().st_mode) == 0o600
    with Server(bundle) as server:
        assert connect(server.port, client_context(f.trusted_ca_pem)) == b"hello"
    assert CertFactory(tmp_path).trusted_ca_pem == f.trusted_ca_pem


def test_directory_defaults(monkeypatch, tmp_path, mitm_ca):
    monkeypatch.delenv(certs.ENV_CERT_DIR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # per user, beside mitmproxy's CA; never inside the package
    assert CertFactory().directory == tmp_path / "home" / ".mitmproxy" / "faults-certs"
    confdir = tmp_path / "conf"
    confdir.mkdir()
    (confdir / "mitmproxy-ca.pem").write_bytes(mitm_ca.private_key_pem.bytes() + mitm_ca.cert_pem.bytes())
    assert CertFactory.from_mitmproxy_confdir(confdir).directory == confdir / "faults-certs"
    monkeypatch.setenv(certs.ENV_CERT_DIR, str(tmp_path / "env"))
    assert CertFactory().directory == tmp_path / "env"
    assert CertFactory(tmp_path / "arg").directory == tmp_path / "arg"


def test_rejects_mismatched_trusted_ca(mitm_ca, tmp_path):
    other = trustme.CA(key_type=trustme.KeyType.RSA)
    with pytest.raises(ValueError, match="does not belong"):
        CertFactory(tmp_path, trusted_ca_cert_pem=mitm_ca.cert_pem.bytes(), trusted_ca_key_pem=other.private_key_pem.bytes())
    with pytest.raises(ValueError):
        CertFactory(tmp_path, trusted_ca_cert_pem=mitm_ca.cert_pem.bytes())


# --------------------------------------------------------------------------
# git: no key ever in the repo


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def test_nothing_generated_is_tracked_by_git():
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    tracked = set(_git("ls-files", "--", "certs").stdout.split())
    assert tracked <= {"certs/README.md"}, tracked
    # no private key anywhere in the tracked files
    keys = _git("grep", "-l", "PRIVATE KEY-----", "--", ":!tests", ":!faults/certs.py")
    assert keys.stdout.strip() == "", keys.stdout
