"""requests, aiohttp or httpx (``http2=True``) through the proxy: one request per case, each on a fresh
connection. argv: CLIENT CASES.json CA_FILE. *.test names resolve to 127.0.0.1.
Prints {id: {status, body_len, error, message, chain}}; error is the exception
class users catch ("ok": none)."""

import asyncio
import json
import socket
import sys

_real = socket.getaddrinfo


def _gai(host, *a, **kw):
    return _real("127.0.0.1" if str(host).endswith(".test") else host, *a, **kw)


socket.getaddrinfo = _gai


def chain(e):
    out, cur = [], e
    while cur is not None and len(out) < 8:
        out.append(type(cur).__name__)
        cur = cur.__cause__ or cur.__context__
    return out


def run_requests(cases, ca):
    import requests

    out = {}
    for c in cases:
        r = {"status": None, "body_len": None, "error": "ok", "message": "", "chain": []}
        try:
            with requests.Session() as s:  # a fresh pool: a fresh connection
                resp = s.get(c["url"], headers={"x-fault": c["fault"]} if c["fault"] else {}, timeout=c["timeout_ms"] / 1000, verify=ca)
                r["status"], r["body_len"] = resp.status_code, len(resp.content)
        except Exception as e:  # noqa: BLE001 - the point is to see what it raises
            r.update(error=type(e).__name__, message=str(e), chain=chain(e))
        out[c["id"]] = r
    return out


async def run_aiohttp(cases, ca):
    import ssl

    import aiohttp

    ctx = ssl.create_default_context(cafile=ca)
    out = {}
    for c in cases:
        r = {"status": None, "body_len": None, "error": "ok", "message": "", "chain": []}
        try:
            timeout = aiohttp.ClientTimeout(total=c["timeout_ms"] / 1000)
            async with aiohttp.ClientSession(timeout=timeout) as s:
                async with s.get(c["url"], headers={"x-fault": c["fault"]} if c["fault"] else {}, ssl=ctx) as resp:
                    r["status"], r["body_len"] = resp.status, len(await resp.read())
        except BaseException as e:  # noqa: BLE001
            r.update(error=type(e).__name__, message=str(e), chain=chain(e))
        out[c["id"]] = r
    return out


def run_httpx(cases, ca):
    """httpx with http2=True: it offers http/1.1 first, so HTTP/2 needs the proxy's fault_prefer_h2.
    ``version``: the HTTP version the response came in (the test checks it is HTTP/2)."""
    import httpx

    out = {}
    for c in cases:
        # error None: no exception (the httpx profile's convention)
        r = {"status": None, "body_len": None, "error": None, "message": "", "chain": [], "version": None}
        try:
            with httpx.Client(http2=True, verify=ca, timeout=c["timeout_ms"] / 1000) as s:  # a fresh pool
                resp = s.get(c["url"], headers={"x-fault": c["fault"]} if c["fault"] else {})
                r["version"] = resp.http_version
                r["status"], r["body_len"] = resp.status_code, len(resp.content)
        except Exception as e:  # noqa: BLE001
            r.update(error=type(e).__name__, message=str(e), chain=chain(e))
        out[c["id"]] = r
    return out


if __name__ == "__main__":
    client, path, ca = sys.argv[1:4]
    cases = json.load(open(path))
    if client == "httpx":
        res = run_httpx(cases, ca)
    else:
        res = run_requests(cases, ca) if client == "requests" else asyncio.run(run_aiohttp(cases, ca))
    sys.stdout.write(json.dumps(res))
