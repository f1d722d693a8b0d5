// The one way the browser tests drive Debian's headless Chromium
// (playwright-core): launch it, open a page that records its script errors,
// run the test's steps, print "error: ..." or "page errors: ..." on failure,
// close the browser and exit 0 or 1 for the calling pytest.
import { chromium } from "playwright-core";

const BASE_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// steps(page) returns false (or throws) to fail the test
export async function runInChromium({ extraArgs = [], viewport } = {}, steps) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [...BASE_ARGS, ...extraArgs],
  });
  let status = 0;
  try {
    const page = await browser.newPage(viewport ? { viewport } : {});
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    if ((await steps(page)) === false) status = 1;
    if (errors.length) { console.log("page errors: " + errors.join("; ")); status = 1; }
  } catch (e) {
    console.log("error: " + e.message);
    status = 1;
  } finally {
    await browser.close();
  }
  process.exit(status);
}
