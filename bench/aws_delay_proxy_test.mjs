// bench/aws_delay_proxy.mjs against a fake upstream: bodies and headers pass
// through unchanged, requests are counted by AWS API, a held request does not
// hold the others, and the counts are written on SIGTERM. Never timed: the
// delay itself is only read back from /__counts.
//
//   node --test bench/aws_delay_proxy_test.mjs      (CTest: bench.aws_delay_proxy)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

const proxyScript = new URL("./aws_delay_proxy.mjs", import.meta.url).pathname;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aws-delay-proxy-test-"));
let upstream, proxy, base;
const held = [];  // responses of requests the upstream holds until told
const seen = [];  // what the upstream received

before(async () => {
  upstream = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.headers["x-hold"]) return held.push(res);
      res.writeHead(200, { "content-type": "application/octet-stream", "x-upstream": "yes" });
      res.end(Buffer.concat([Buffer.from("echo:"), body]));
    });
  });
  await new Promise((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const portFile = path.join(dir, "port");
  proxy = spawn(process.execPath, [proxyScript, "--upstream", `http://127.0.0.1:${upstream.address().port}`,
    "--delay-ms", "5", "--port-file", portFile, "--counts-file", path.join(dir, "counts.json")],
  { stdio: ["ignore", "ignore", "inherit"] });
  while (!fs.existsSync(portFile) || !fs.readFileSync(portFile, "utf8").trim()) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  base = `http://127.0.0.1:${fs.readFileSync(portFile, "utf8").trim()}`;
});

after(() => {
  upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const signed = (service) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
});

async function send(method, urlPath, headers, body) {
  const res = await fetch(base + urlPath, { method, headers, body });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

test("passes bodies and headers through unchanged and counts by API", async () => {
  const binary = Buffer.from([0, 1, 2, 255, 13, 10, 38, 61]);
  const sqs = await send("POST", "/", { ...signed("sqs"), "x-amz-target": "AmazonSQS.ReceiveMessage",
    "content-type": "application/x-amz-json-1.0" }, '{"QueueUrl":"q"}');
  assert.equal(sqs.status, 200);
  assert.equal(sqs.body.toString(), 'echo:{"QueueUrl":"q"}');
  assert.equal(sqs.headers.get("x-upstream"), "yes");
  const form = "Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Action=PublishBatch";
  await send("POST", "/", { ...signed("sns"), "content-type": "application/x-www-form-urlencoded" }, form);
  await send("PUT", "/bucket/key", { ...signed("s3"), "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }, binary);
  const got = await send("GET", "/bucket/key", signed("s3"));
  assert.equal(got.body.toString("latin1"), "echo:");

  const put = seen.find((r) => r.method === "PUT");
  assert.deepEqual(put.body, binary);
  assert.equal(put.url, "/bucket/key");
  assert.equal(put.headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
  assert.equal(put.headers.host, new URL(base).host); // signed: left as the client sent it
  assert.equal(seen.find((r) => r.body.toString() === form).body.toString(), form);

  const counts = await (await fetch(`${base}/__counts`)).json();
  assert.equal(counts.delay_ms, 5);
  assert.deepEqual(counts.requests, { "s3.GET": 1, "s3.PUT": 1, "sns.PublishBatch": 1, "sqs.ReceiveMessage": 1 });
});

test("a held request does not hold the others", async () => {
  const slow = send("POST", "/", { ...signed("sqs"), "x-amz-target": "AmazonSQS.ReceiveMessage", "x-hold": "1" }, "{}");
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  // The long poll is still open upstream; another call goes through.
  const other = await send("POST", "/", { ...signed("sqs"), "x-amz-target": "AmazonSQS.DeleteMessageBatch" }, "{}");
  assert.equal(other.body.toString(), "echo:{}");
  held.pop().end("late");
  assert.equal((await slow).body.toString(), "late");
});

test("a blackhole answers nothing until healed, then delivers what it held", async () => {
  const fault = (mode) => send("POST", "/__fault", {}, mode);
  assert.equal((await fault("sideways")).status, 400);
  assert.equal((await fault("blackhole")).status, 204);
  const before = seen.length;
  let answered = false;
  const held = send("POST", "/", { ...signed("sqs"), "x-amz-target": "AmazonSQS.DeleteMessageBatch" }, "{}").then(
    (r) => { answered = true; return r; });
  // Nothing reaches the upstream, nothing comes back, while the fault lasts.
  const other = await send("GET", "/__counts");
  assert.equal(other.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(answered, false);
  assert.equal(seen.length, before);
  assert.equal((await fault("none")).status, 204);
  assert.equal((await held).body.toString(), "echo:{}");
  assert.equal(seen.length, before + 1);
});

test("writes the counts on SIGTERM", async () => {
  const exited = new Promise((resolve) => proxy.on("exit", resolve));
  proxy.kill("SIGTERM");
  assert.equal(await exited, 0);
  const counts = JSON.parse(fs.readFileSync(path.join(dir, "counts.json"), "utf8"));
  assert.equal(counts.requests["sqs.ReceiveMessage"], 2);
  assert.equal(counts.requests["sqs.DeleteMessageBatch"], 2);
});
