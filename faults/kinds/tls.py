"""``tls``: a fault on the client's TLS handshake, chosen per connection.

- ``tls cert=untrusted|wrong_host|expired|not_yet_valid|self_signed|incomplete_chain|weak_key|sha1``
- ``tls handshake=alert alert=NAME`` (a real fatal alert record), ``handshake=plaintext``
  (plain HTTP bytes instead of a ServerHello), ``handshake=reset`` / ``handshake=close``
  (RST / FIN right after the ClientHello), ``handshake=stall`` (never answer)
- ``tls client_cert=require`` (demand a client certificate from the client CA)
- ``tls alpn=http1_only``, ``tls max_version=1.2``, ``tls min_version=1.3``
- ``tls alpn=no_h3``: a QUIC handshake (HTTP/3) whose server offers no ``h3``: it fails with a
  no_application_protocol alert (TCP connections: not applied)

A ``cert`` choice combines with ``client_cert``, ``alpn`` and the version
limits; ``handshake`` stands alone (nothing of TLS is ever negotiated).

``level = "connection"``: the HTTP injector never applies it to flows; the
``faults/addons/tls.py`` addon matches these rules against the SNI at ClientHello and
calls the hooks below with a ``HandshakeAct`` (``faults/wire/tlsact.py``).
"""

from __future__ import annotations

from faults.catalog.tables import TLS_ALERTS
from faults.kinds import Fault, Param, register
from faults.errors import SpecError

CERT_KINDS = ("untrusted", "wrong_host", "expired", "not_yet_valid", "self_signed",
              "incomplete_chain", "weak_key", "sha1")
HANDSHAKES = ("alert", "plaintext", "reset", "close", "stall")
VERSIONS = ("1.0", "1.1", "1.2", "1.3")

ALERTS = TLS_ALERTS  # fatal alert names -> code
QUIC_NO_HANDSHAKE = {
    "plaintext": "QUIC has no plaintext records to send instead of the handshake",
    "reset": "QUIC has no RST (a stateless reset needs an established connection); handshake=close "
             "sends a CONNECTION_CLOSE",
    "stall": "an unanswered ClientHello is quic_datagrams drop=1 when=handshake",
}


@register
class Tls(Fault):
    kind = "tls"
    summary = "TLS handshake fault on the client connection (bad certificate, alert, mTLS, ALPN/version limits)"
    level = "connection"
    params = {
        "cert": Param(str, "", choices=("",) + CERT_KINDS, help="serve this kind of bad certificate"),
        "handshake": Param(str, "", choices=("",) + HANDSHAKES, help="answer the ClientHello this way"),
        "alert": Param(str, "handshake_failure", choices=tuple(ALERTS),
                       help="the fatal alert for handshake=alert"),
        "client_cert": Param(str, "", choices=("", "require"), help="demand a client certificate"),
        "alpn": Param(str, "", choices=("", "http1_only", "no_h3"),
                      help="http1_only: never negotiate h2; no_h3: a QUIC handshake offers no h3 (QUIC only)"),
        "max_version": Param(str, "", choices=("",) + VERSIONS, help="highest TLS version offered"),
        "min_version": Param(str, "", choices=("",) + VERSIONS, help="lowest TLS version accepted"),
        "stall_ms": Param(int, 300_000, min=1, max=3_600_000,
                          help="handshake=stall: give up after this long if the client never does"),
    }

    @classmethod
    def check(cls, params):
        effects = [k for k in ("cert", "handshake", "client_cert", "alpn", "max_version", "min_version")
                   if params.get(k)]
        if not effects:
            raise SpecError("fault 'tls' needs one of cert=, handshake=, client_cert=, alpn=, "
                            "max_version=, min_version=")
        if params.get("handshake") and len(effects) > 1:
            raise SpecError("tls handshake=... cannot be combined with "
                            + ", ".join(f"{k}=" for k in effects if k != "handshake")
                            + " (no TLS is negotiated)")
        if "alert" in params and params.get("handshake") != "alert":
            raise SpecError("tls alert=NAME needs handshake=alert")
        if "stall_ms" in params and params.get("handshake") != "stall":
            raise SpecError("tls stall_ms=N needs handshake=stall")
        lo, hi = params.get("min_version"), params.get("max_version")
        if lo and hi and VERSIONS.index(lo) > VERSIONS.index(hi):
            raise SpecError(f"tls min_version={lo} is above max_version={hi}")

    @property
    def alert_code(self) -> int:
        return ALERTS[self.get("alert")]

    def quic_refusal(self) -> str | None:
        """Why this fault cannot act on a QUIC handshake (None: it can: ``cert=``)."""
        how = self.get("handshake")
        if how in QUIC_NO_HANDSHAKE:
            return f"tls handshake={how} has no QUIC counterpart: {QUIC_NO_HANDSHAKE[how]}"
        other = [k for k in ("client_cert", "max_version", "min_version") if self.get(k)]
        if self.get("alpn") == "http1_only":
            other.append("alpn")
        if other:
            return f"tls {', '.join(f'{k}=' for k in other)} is not implemented for QUIC (TLS 1.3 only, ALPN h3)"
        return None

    # -- the hooks (level "connection") --------------------------------------------
    def refusal(self, act):
        if act.quic:  # a QUIC handshake: cert= and alpn=no_h3 have a QUIC meaning
            return self.quic_refusal()
        return "tls alpn=no_h3 acts on QUIC handshakes only" if self.get("alpn") == "no_h3" else None

    async def tls_clienthello(self, act):
        """``handshake=...``: answer the ClientHello on the raw socket (QUIC: a CONNECTION_CLOSE)."""
        how = self.get("handshake")
        if not how:
            return
        if act.quic:  # alert or close: the others are refused on QUIC
            act.quic_close((self.alert_code, self.get("alert")) if how == "alert" else None)
        elif how == "stall":
            await act.stall(self.get("stall_ms") / 1000)
        else:
            if how == "alert":
                act.send_alert(self.alert_code)
            elif how == "plaintext":
                act.send_plaintext()
            elif how == "reset":
                act.reset()
            elif how == "close":
                act.close()
            await act.answered()

    def tls_start(self, data, act):
        """``cert``, ``client_cert``, ``alpn=http1_only`` and the versions: our own TLS server side."""
        act.serve(data, self.get("cert") or "valid", client_ca=self.get("client_cert") == "require",
                  min_version=self.get("min_version"), max_version=self.get("max_version"),
                  http1_only=self.get("alpn") == "http1_only")

    def left_without_request(self) -> str | None:
        """A bad certificate that the client's TLS library accepted but the client did not
        (curl checks the host name only after the handshake): it leaves without a request."""
        return "client closed after the handshake without a request" if self.get("cert") else None

    def record_leaf(self, act):
        """``cert=expired|not_yet_valid``: the leaf served, whose dates the record names."""
        cert = self.get("cert")
        if cert not in ("expired", "not_yet_valid"):
            return None
        try:
            return act.leaf(cert).leaf_cert
        except Exception:  # the record must be written anyway
            return None

    def quic_start(self, data, act):
        """``cert`` and ``alpn=no_h3`` on a QUIC handshake: the bad chain, or no h3."""
        no_h3 = self.get("alpn") == "no_h3"
        if self.get("cert") or no_h3:
            act.serve_quic(data, self.get("cert") or "valid", no_h3=no_h3)
