"""Toxiproxy 2.12's API shapes, statuses and error bodies (faults/toxiproxy/api.py),
checked against what api.go answers, without mitmproxy (a fake backend)."""

import asyncio
import json

import pytest

from faults.toxiproxy.api import Api, Backend, f32


class FakeBackend(Backend):
    def __init__(self):
        self.port = 40000
        self.changed = []

    async def start(self, proxy):
        self.port += 1
        return f"127.0.0.1:{self.port}"

    async def stop(self, proxy):
        pass

    async def toxics_changed(self, proxy, removed=()):
        self.changed.append((proxy.name, list(removed)))


def call(api, method, path, body=b"", ua="test"):
    return asyncio.run(api.handle(method, path, {"user-agent": ua}, body if isinstance(body, bytes) else json.dumps(body).encode()))


@pytest.fixture
def api():
    return Api(FakeBackend())


def test_proxy_create_show_index_and_field_order(api):
    status, hdrs, body = call(api, "POST", "/proxies", {"name": "redis", "upstream": "localhost:6379", "listen": "localhost:0"})
    assert status == 201 and hdrs["Content-Type"] == "application/json"
    assert body == b'{"name":"redis","listen":"127.0.0.1:40001","upstream":"localhost:6379","enabled":true,"toxics":[]}'
    assert call(api, "GET", "/proxies/redis")[2] == body
    assert call(api, "GET", "/proxies")[2] == b'{"redis":' + body + b"}"


def test_errors_are_text_plain_json_with_a_newline(api):
    status, hdrs, body = call(api, "POST", "/proxies", {"upstream": "x:1"})
    assert (status, body) == (400, b'{"error":"missing required field: name","status":400}\n')
    assert hdrs["Content-Type"] == "text/plain; charset=utf-8"
    assert call(api, "POST", "/proxies", b"")[2] == b'{"error":"bad request body: EOF","status":400}\n'
    assert call(api, "POST", "/proxies", {"name": 3, "upstream": "x:1"})[2] == (
        b'{"error":"bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string",'
        b'"status":400}\n')
    call(api, "POST", "/proxies", {"name": "a", "upstream": "x:1"})
    assert call(api, "POST", "/proxies", {"name": "a", "upstream": "x:1"})[:3:2] == (
        409, b'{"error":"proxy already exists","status":409}\n')
    assert call(api, "GET", "/proxies/nope")[:3:2] == (404, b'{"error":"proxy not found","status":404}\n')
    assert call(api, "GET", "/nope")[:3:2] == (404, b"404 page not found\n")
    assert call(api, "PUT", "/proxies")[:3:2] == (405, b"")
    assert call(api, "GET", "/proxies", ua="Mozilla/5.0")[:3:2] == (403, b"User agent not allowed\n")


def test_toxics_defaults_order_statuses_and_updates(api):
    call(api, "POST", "/proxies", {"name": "p", "upstream": "x:1"})
    status, _, body = call(api, "POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 10}})
    assert status == 200
    assert body == (b'{"attributes":{"latency":10,"jitter":0},"name":"latency_downstream","type":"latency",'
                    b'"stream":"downstream","toxicity":1}')
    call(api, "POST", "/proxies/p/toxics", {"type": "limit_data", "stream": "Upstream", "toxicity": 0.1})
    toxics = json.loads(call(api, "GET", "/proxies/p/toxics")[2])
    assert [t["name"] for t in toxics] == ["limit_data_Upstream", "latency_downstream"]  # upstream chain first
    assert toxics[0]["toxicity"] == 0.1 and toxics[0]["stream"] == "Upstream"
    assert call(api, "POST", "/proxies/p/toxics", {"type": "latency"})[:3:2] == (
        409, b'{"error":"toxic already exists","status":409}\n')
    assert call(api, "POST", "/proxies/p/toxics", {"type": "nope"})[2] == b'{"error":"invalid toxic type","status":400}\n'
    assert call(api, "POST", "/proxies/p/toxics", {"type": "latency", "stream": "x"})[2] == (
        b'{"error":"stream was invalid, can be either upstream or downstream","status":400}\n')
    # an update merges attributes and keeps the toxicity unless given
    status, _, body = call(api, "PATCH", "/proxies/p/toxics/latency_downstream", {"attributes": {"jitter": 5}})
    assert status == 200 and json.loads(body)["attributes"] == {"latency": 10, "jitter": 5}
    assert call(api, "DELETE", "/proxies/p/toxics/latency_downstream")[:3:2] == (204, b"")
    assert call(api, "DELETE", "/proxies/p/toxics/latency_downstream")[2] == b'{"error":"toxic not found","status":404}\n'
    assert call(api, "POST", "/reset")[0] == 204
    assert json.loads(call(api, "GET", "/proxies/p")[2])["toxics"] == []


def test_populate_shapes(api):
    status, hdrs, body = call(api, "POST", "/populate", [{"name": "a", "upstream": "x:1"}])
    assert status == 201 and json.loads(body)["proxies"][0]["name"] == "a"
    status, hdrs, body = call(api, "POST", "/populate", [{"name": "b"}])
    assert status == 400 and hdrs["Content-Type"] == "application/json"
    assert body == b'{"error":"missing required field: upstream at proxy 1","status":400,"proxies":null}'
    assert call(api, "POST", "/populate", [])[2] == b'{"proxies":null}'  # Go marshals the empty result as null


def test_update_disables_and_version(api):
    call(api, "POST", "/proxies", {"name": "p", "upstream": "x:1"})
    body = json.loads(call(api, "POST", "/proxies/p", {"enabled": False})[2])
    assert body["enabled"] is False and body["listen"] == "127.0.0.1:40001"
    assert call(api, "GET", "/version")[1:] == ({"Content-Type": "application/json;charset=utf-8"},
                                               b'{"version": "2.12.0"}\n')


def test_http_toxic_spec_takes_windows_and_ramps_inline(api):
    """toxicity maps to a constant probability; a window or a ramp goes in the spec, as in the faults option."""
    call(api, "POST", "/proxies", {"name": "p", "upstream": "x:1"})
    body = {"type": "http", "attributes": {"spec": "status code=503 window=1s..5s probability=0.1..0.5 max_active=3"}}
    status, _, out = call(api, "POST", "/proxies/p/toxics", body)
    assert status == 200, out


def test_float32_prints_like_go():
    assert [f32(x) for x in (1.0, 0.5, 0.1, 0.3)] == [1, 0.5, 0.1, 0.3]


@pytest.mark.parametrize("body, error", [
    (b"[" * 100_000, "bad request body: invalid JSON: nested too deeply"),
    (b"\xff\xfe", "bad request body: invalid UTF-8"),
    (b"x" * (5 << 20), "bad request body: larger than 4 MiB"),
    (b'{"type": "latency", "attributes": [1]}',
     "bad request body: json: cannot unmarshal array into Go value of type LatencyToxic"),
    (b'{"type": "latency", "attributes": {"latency": 1.5}}',
     "bad request body: json: cannot unmarshal number 1.5 into Go struct field LatencyToxic.latency of type int64"),
    (b'{"type": "latency", "toxicity": "high"}',
     "bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32"),
    (b'{"type": "http", "attributes": {"spec": "explode now"}}', None),
    (b'{"type": "http", "attributes": {"spec": "tls cert=expired"}}', "bad request body: toxic 'http_downstream': "
     "'tls' acts on the connection, not on a request: not available as an http toxic"),
    (b'{"type": "http", "attributes": {"spec": "reset", "match": "~c 500"}}', "bad request body: toxic "
     "'http_downstream': the match filter '~c 500' reads the response: an http toxic is chosen when the request "
     "arrives; set response-triggered rules in the plan or the faults option"),
    (b'{"type": "http", "toxicity": 0.5, "attributes": {"spec": "status code=503 probability=0.1..0.2"}}', None),
])
def test_hostile_toxic_bodies_get_one_line_400s(api, body, error):
    call(api, "POST", "/proxies", {"name": "p", "upstream": "x:1"})
    status, hdrs, out = call(api, "POST", "/proxies/p/toxics", body)
    assert status == 400 and out.count(b"\n") == 1, out
    if error:
        assert json.loads(out)["error"] == error


def test_http_server_answers_malformed_requests_with_400():
    from faults.toxiproxy import httpd

    async def go():
        server = await httpd.start(Api(FakeBackend()).handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"NONSENSE\r\n\r\n")
        head = await asyncio.wait_for(r.read(200), 2)
        w.close()
        r, w = await asyncio.open_connection("127.0.0.1", port)  # keep-alive: two requests, one connection
        w.write(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET /proxies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        both = await asyncio.wait_for(r.read(), 2)
        w.close()
        await httpd.close(server)
        return head, both

    head, both = asyncio.run(go())
    assert head.startswith(b"HTTP/1.1 400 ")
    assert both.count(b"HTTP/1.1 200 OK") == 2 and both.endswith(b"{}")


def test_concurrent_creates_of_one_name_one_wins():
    class Slow(FakeBackend):
        async def start(self, proxy):
            await asyncio.sleep(0.02)  # binding takes a while: the second create must still see the first
            return await super().start(proxy)

    api = Api(Slow())
    body = json.dumps({"name": "same", "upstream": "x:1"}).encode()

    async def go():
        return await asyncio.gather(*(api.handle("POST", "/proxies", {}, body) for _ in range(2)))

    assert sorted(r[0] for r in asyncio.run(go())) == [201, 409]
