// A delay proxy for the benchmarks: sits between docvault and the local AWS
// emulator on loopback, holds every response for --delay-ms before sending it
// (the round trip a real network adds), and counts requests by AWS API.
//
//   node bench/aws_delay_proxy.mjs --upstream http://127.0.0.1:4566 \
//        [--port 0] [--delay-ms 15] [--port-file FILE] [--counts-file FILE]
//
// Bodies pass through unchanged in both directions, headers too (Host
// included: the SigV4 signature covers it). Client connections are kept
// alive; upstream connections are pooled and kept alive. Every request is
// handled on its own, so a 20 s long poll holds nothing but its own socket.
//
// Counts: GET /__counts answers {"delay_ms", "requests": {"sqs.ReceiveMessage": n,
// "sns.PublishBatch": n, "s3.PUT": n, ...}, "cpu_seconds", "pid"}; the same JSON is
// written to --counts-file on SIGTERM/SIGINT. The API comes from the request:
// SQS's JSON protocol names it in X-Amz-Target ("AmazonSQS.ReceiveMessage"),
// the query protocol (SNS) in the form body or query string (Action=PublishBatch),
// anything else (S3) counts by method. The service is the SigV4 credential
// scope's (Authorization: ... Credential=KEY/DATE/REGION/SERVICE/aws4_request;
// "unsigned" without one, e.g. a presigned URL).
//
// Outages, for tests: POST /__fault with the body "blackhole" makes the proxy
// accept every new request and answer none (a network path that drops
// packets: connections open, nothing comes back); "none" heals it, and the
// requests held meanwhile go upstream then, as TCP's retransmissions would
// deliver them, unless their client gave up first.
import fs from "node:fs";
import http from "node:http";

const options = { port: "0", "delay-ms": "0", upstream: "", "port-file": "", "counts-file": "" };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, "");
  if (!(name in options) || i + 1 >= process.argv.length) {
    console.error(`aws_delay_proxy: unknown or incomplete option ${process.argv[i]}`);
    process.exit(2);
  }
  options[name] = process.argv[i + 1];
}
if (!options.upstream) {
  console.error("aws_delay_proxy: --upstream URL is required");
  process.exit(2);
}
const upstream = new URL(options.upstream);
const delayMs = Number(options["delay-ms"]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
const counts = new Map();
// The client's connection is the proxy's own: these headers are not passed on.
const hopByHop = new Set(["connection", "keep-alive"]);

function service(headers) {
  const m = /Credential=[^/]*\/[^/]*\/[^/]*\/([^/]+)\//.exec(headers.authorization ?? "");
  return m ? m[1] : "unsigned";
}

// The Action parameter of a form body or query string (its value needs no decoding).
function formAction(text) {
  return /(?:^|&)Action=([^&]*)/.exec(text)?.[1] ?? null;
}

function apiOf(req, formBody) {
  const target = req.headers["x-amz-target"];
  if (target) return `${service(req.headers)}.${target.slice(target.indexOf(".") + 1)}`;
  const action = formAction(req.url.split("?")[1] ?? "") ?? (formBody !== null ? formAction(formBody) : null);
  return `${service(req.headers)}.${action ?? req.method}`;
}

function countsJson() {
  const cpu = process.cpuUsage();
  return JSON.stringify({
    delay_ms: delayMs,
    requests: Object.fromEntries([...counts].sort()),
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    pid: process.pid,
  });
}

let blackhole = false;
const heldByBlackhole = [];  // functions that send a held request upstream

function setFault(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const mode = Buffer.concat(chunks).toString().trim();
    if (mode !== "blackhole" && mode !== "none") {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("aws_delay_proxy: /__fault takes blackhole or none\n");
      return;
    }
    blackhole = mode === "blackhole";
    if (!blackhole) heldByBlackhole.splice(0).forEach((send) => send());
    res.writeHead(204);
    res.end();
  });
}

const server = http.createServer((req, res) => {
  if (req.url === "/__counts") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(countsJson());
    return;
  }
  if (req.url === "/__fault" && req.method === "POST") return setFault(req, res);
  // Query-protocol bodies are kept (small: SNS caps a request at 256 KiB) to
  // read their Action when the request ends; others stream through.
  const isForm = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
  const formChunks = isForm ? [] : null;
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      // The emulator has answered: hold the answer for the delay (its body
      // waits in the socket, paused), then pass it on as it came.
      answer.pause();
      setTimeout(() => {
        if (res.destroyed) return answer.destroy();
        const headers = answer.rawHeaders.filter((_, i, all) => !hopByHop.has(all[i - (i % 2)].toLowerCase()));
        res.writeHead(answer.statusCode, headers);
        answer.pipe(res);
        answer.resume();
      }, delayMs);
    },
  );
  out.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`aws_delay_proxy: upstream ${error.message}\n`);
  });
  req.on("data", (chunk) => formChunks?.push(chunk));
  req.on("end", () => {
    const api = apiOf(req, formChunks ? Buffer.concat(formChunks).toString("latin1") : null);
    counts.set(api, (counts.get(api) ?? 0) + 1);
  });
  // A client that goes away (a cancelled long poll) takes its upstream call with it.
  res.on("close", () => {
    if (!res.writableFinished) out.destroy();
  });
  if (!blackhole) return req.pipe(out);
  // Held: the body waits in the socket until the heal.
  req.pause();
  heldByBlackhole.push(() => {
    if (res.destroyed) return out.destroy();
    req.pipe(out);
    req.resume();
  });
});
// Longer than any client keeps an idle connection: the client closes first.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;

function writeCounts() {
  if (options["counts-file"]) fs.writeFileSync(options["counts-file"], countsJson() + "\n");
}
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    writeCounts();
    process.exit(0);
  });
}

server.listen(Number(options.port), "127.0.0.1", () => {
  const { port } = server.address();
  if (options["port-file"]) fs.writeFileSync(options["port-file"], `${port}\n`);
  console.error(`aws_delay_proxy: 127.0.0.1:${port} -> ${upstream.origin}, ${delayMs} ms per response`);
});
