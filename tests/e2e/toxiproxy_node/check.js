// toxiproxy-node-client 4.1.0, unchanged, against the proxy's Toxiproxy API.
// node check.js API_URL ECHO_HOST:PORT  -> one JSON object of measurements on stdout
"use strict";
const net = require("net");
const { Toxiproxy } = require("toxiproxy-node-client");

const [api, upstream] = process.argv.slice(2);

// one connection: send `data`, collect what comes back until `want` bytes, EOF, an error or `waitMs`
function exchange(listen, data, want, waitMs = 3000) {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), +listen.slice(listen.lastIndexOf(":") + 1)];
  return new Promise((resolve) => {
    const t0 = Date.now();
    let got = Buffer.alloc(0), chunks = 0, done = false;
    const sock = net.connect({ host, port });
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: got.toString(), bytes: got.length, chunks, ms: Date.now() - t0, end: how });
    };
    const timer = setTimeout(() => finish("timeout"), waitMs);
    sock.on("connect", () => sock.write(data));
    sock.on("data", (d) => { got = Buffer.concat([got, d]); chunks++; if (got.length >= want) finish("complete"); });
    sock.on("end", () => finish("eof"));
    sock.on("error", (e) => finish(e.code || e.message));
  });
}

async function main() {
  const out = {};
  const tp = new Toxiproxy(api);
  out.version = await tp.getVersion();
  for (const [name, p] of Object.entries(await tp.getAll())) await p.remove();

  const proxy = await tp.createProxy({ name: "node", listen: "localhost:0", upstream });
  out.listen = proxy.listen;
  out.enabled = proxy.enabled;
  out.plain = await exchange(proxy.listen, "hello", 5);

  const lat = await proxy.addToxic({ name: "lat", type: "latency", stream: "downstream", toxicity: 1,
                                     attributes: { latency: 300, jitter: 0 } });
  out.latency_toxic = lat.toJson();
  out.latency = await exchange(proxy.listen, "hello", 5);
  const got = await proxy.getToxic("lat");
  // updated to a latency longer than the wait: nothing arrives (the update took effect)
  const updated = await got.update({ attributes: { latency: 600000 }, toxicity: 1 });
  out.updated_toxic = updated.toJson();
  out.latency_updated = await exchange(proxy.listen, "hello", 5, 1000);
  await updated.remove();

  const bw = await proxy.addToxic({ name: "bw", type: "bandwidth", stream: "downstream", toxicity: 1,
                                    attributes: { rate: 100 } });
  out.bandwidth = await exchange(proxy.listen, "x".repeat(50000), 50000);
  await bw.remove();

  const to = await proxy.addToxic({ name: "to", type: "timeout", stream: "upstream", toxicity: 1,
                                    attributes: { timeout: 200 } });
  out.timeout = await exchange(proxy.listen, "dropped", 7);
  await to.remove();

  const rp = await proxy.addToxic({ name: "rp", type: "reset_peer", stream: "downstream", toxicity: 1,
                                    attributes: { timeout: 0 } });
  out.reset_peer = await exchange(proxy.listen, "x", 1);
  await rp.remove();

  const ld = await proxy.addToxic({ name: "ld", type: "limit_data", stream: "downstream", toxicity: 1,
                                    attributes: { bytes: 5 } });
  out.limit_data = await exchange(proxy.listen, "0123456789", 10);
  await ld.remove();

  const sl = await proxy.addToxic({ name: "sl", type: "slicer", stream: "downstream", toxicity: 1,
                                    attributes: { average_size: 10, size_variation: 0, delay: 20000 } });
  out.slicer = await exchange(proxy.listen, "y".repeat(100), 100);
  await sl.remove();

  const sc = await proxy.addToxic({ name: "sc", type: "slow_close", stream: "downstream", toxicity: 1,
                                    attributes: { delay: 10 } });
  out.slow_close_toxic = sc.toJson();

  const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream });
  out.disabled = { enabled: down.enabled, conn: await exchange(proxy.listen, "x", 1) };
  const up = await proxy.update({ enabled: true, listen: proxy.listen, upstream });
  out.reenabled = { enabled: up.enabled, conn: await exchange(proxy.listen, "hello", 5) };

  const populated = await tp.populate([{ name: "pop", listen: "127.0.0.1:0", upstream }]);
  out.populated = Object.keys(populated);

  await tp.reset();
  out.after_reset = (await tp.get("node")).toJson();
  out.after_reset_toxics = (await tp.getApi().get(`${api}/proxies/node/toxics`)).data;

  try { await tp.get("missing"); out.missing = "no error"; } catch (e) { out.missing = e.message; }
  for (const p of Object.values(await tp.getAll())) await p.remove();
  out.after_remove = Object.keys(await tp.getAll());
  out.removed_conn = await exchange(proxy.listen, "x", 1);
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
