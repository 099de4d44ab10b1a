"""requests or aiohttp through the proxy: one request per case, each on a fresh
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


if __name__ == "__main__":
    client, path, ca = sys.argv[1:4]
    cases = json.load(open(path))
    res = run_requests(cases, ca) if client == "requests" else asyncio.run(run_aiohttp(cases, ca))
    sys.stdout.write(json.dumps(res))
