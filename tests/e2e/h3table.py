"""Print the HTTP/3 fault table of docs/http3.md, measured with the real clients:
``.venv/bin/python -m tests.e2e.h3table`` (about 40 s). Each fault runs on its own QUIC
connection with a warm-up request and a slow sibling in flight; a row shows what curl
(curl_cffi) and aioquic reported for the faulted stream, the record's outcome, and
whether the record's profile agrees with each client."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream
from tests.e2e.h3clients import aioquic_many, curl_many

ROWS = [
    "status code=503", "delay ms=200", "hang", "truncate", "bad_gzip", "grpc_status code=UNAVAILABLE",
    "throttle bytes_per_s=8000", "stall after_events=1 ms=300", "reset", "close", "reset scope=stream",
    "rst_stream code=H3_REQUEST_CANCELLED", "rst_stream code=H3_REQUEST_REJECTED",
    "rst_stream code=H3_INTERNAL_ERROR when=after_headers", "rst_stream code=H3_NO_ERROR when=mid_body after_bytes=100",
    "rst_stream code=CANCEL when=mid_request after_bytes=1000",
    "goaway", "goaway then=drain", "goaway last_stream=below then=drain",
    "quic_close code=H3_EXCESSIVE_LOAD", "quic_close code=PROTOCOL_VIOLATION space=transport",
    "reset when=mid_request after_bytes=1000", "throttle bytes_per_s=1000 direction=request",
    "h2_violation kind=bad_hpack",
]


def said(res) -> str:
    if res[0] == "ok":
        return f"{res[1]}"
    detail = res[2]
    if isinstance(detail, tuple):
        detail = f"0x{detail[0]:x}" + (f" frame_type={detail[1]}" if detail[1] is not None else "")
    elif isinstance(detail, int):
        detail = f"0x{detail:x}"
    return f"{res[1]} {detail}".strip()


def main() -> int:
    out = []
    with tempfile.TemporaryDirectory() as tmp, Upstream(tls=True) as up:
        rep = Path(tmp) / "r.jsonl"
        with ProxyProcess(mode=f"reverse:{up.url}", options={"fault_header": True, "fault_report": str(rep),
                                                             "ssl_insecure": True}) as px:
            for name, drive in (("curl", curl_many), ("aioquic", aioquic_many)):
                for i, spec in enumerate(ROWS):
                    path = "/f?sse=3&gap=50" if spec.startswith("stall") else "/f?size=2000&ms=100"
                    body = b"u" * 100_000 if "mid_request" in spec or "direction=request" in spec else None
                    reqs = [(f"/w?case={name}-w{i}", {}), (f"/s?ms=300&case={name}-s{i}", {}),
                            (f"{path}&case={name}-f{i}", {"x-fault": spec}, body)]
                    try:
                        out.append((name, spec, drive(px.port, px.ca_file, reqs, timeout=2)[2]))
                    except ConnectionError as e:  # aioquic's connect() itself failed
                        out.append((name, spec, ("error", "ConnectionError", str(e))))
        recs = {}  # the proxy has stopped: every record is written
        for line in rep.read_text().splitlines():
            r = json.loads(line)
            recs[r["url"].split("case=")[1]] = r
    print("| fault | curl (exit, text) | aioquic | outcome (record) | profiles agree |")
    print("|---|---|---|---|---|")
    by_spec: dict[str, dict] = {}
    for name, spec, res in out:
        by_spec.setdefault(spec, {})[name] = res
    for i, spec in enumerate(ROWS):
        cells, agree = [], []
        outcome = ""
        for name in ("curl", "aioquic"):
            res = by_spec[spec][name]
            cells.append(said(res).replace("|", "/")[:90])
            rec = recs.get(f"{name}-f{i}")
            if rec:
                outcome = rec["outcome"]["summary"].split("; ended with")[0]
                prof = rec["clients"].get(name, {})
                ok = (0 if res[0] == "ok" else res[1]) in [prof.get("error")] + [a["error"] for a in prof.get("alt", [])]
                agree.append(f"{name} {'yes' if ok else 'NO'}")
        print(f"| `{spec}` | {cells[0]} | {cells[1]} | {outcome.replace('|', '/')} | {', '.join(agree)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
