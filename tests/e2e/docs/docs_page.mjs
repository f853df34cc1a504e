// A person's visit to docvault's API reference page, in a real browser:
// Debian's chromium, headless, driven by puppeteer-core (the repository's
// node_modules; scripts/lib/node.sh installs it). Run by
// tests/e2e/docs/docs_page_test.cpp against a docvault it started:
//
//   node docs_page.mjs --base http://127.0.0.1:PORT --chromium /usr/bin/chromium \
//     --token JWT --file PATH --entity-id ID --screenshot PATH
//
// It loads /docs, reads the operations the page lists, pastes the token,
// fills the upload's "Try it" form (the file, entity_id, entity_type) and
// sends it, waits for the answer the page shows, and keeps a screenshot of the
// whole page with that answer. Any request the page makes to another origin is
// refused and reported (the page must work with no internet). The last line of
// output is `RESULT {json}`: the operations listed, the upload's status and
// body, the requests refused and the page's script errors. Exits 0 when it
// could do all that (the test judges the result), 1 when it could not.
import puppeteer from "puppeteer-core";

function options(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error("bad argument " + argv[i]);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ["base", "chromium", "token", "file", "entity-id", "screenshot"]) {
    if (!out[name]) throw new Error("--" + name + " is required");
  }
  return out;
}

const args = options(process.argv.slice(2));
const result = { operations: [], upload: null, refused_requests: [], page_errors: [] };
const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  timeout: 90000,
  protocolTimeout: 90000,
  // As root chromium needs --no-sandbox; containers have a small /dev/shm.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  await page.setViewport({ width: 1280, height: 1000 });
  page.on("pageerror", (error) => result.page_errors.push(String(error)));
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith(args.base + "/") || url.startsWith("data:")) return request.continue();
    result.refused_requests.push(url);
    return request.abort();
  });

  await page.goto(args.base + "/docs", { waitUntil: "load" });
  await page.waitForSelector("body[data-loaded]");
  result.loaded = await page.$eval("body", (body) => body.dataset.loaded);
  result.operations = await page.$$eval("details.op", (all) => all.map((op) => op.dataset.method + " " + op.dataset.path));

  // The upload, as a person would do it.
  await page.type("#token", args.token);
  await page.click("#uploadDocument > summary");
  const form = "form[data-operation=uploadDocument]";
  const file = await page.waitForSelector(form + " input[type=file][name='body:file']", { visible: true });
  await file.uploadFile(args.file);
  await page.type("#uploadDocument-body-entity_id", args["entity-id"]);
  await page.select("#uploadDocument-body-entity_type", "issuer");
  await page.click(form + " button[type=submit]");
  await page.waitForFunction((selector) => {
    const shown = document.querySelector(selector + " pre.result");
    return shown && shown.dataset.status;
  }, {}, form);
  result.upload = await page.$eval(form + " pre.result", (pre) => ({ status: pre.dataset.status, text: pre.textContent }));
  await page.$eval(form, (element) => element.scrollIntoView({ block: "center" }));
  await page.screenshot({ path: args.screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log("RESULT " + JSON.stringify(result));
