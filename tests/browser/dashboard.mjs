// Opens the dashboard in Debian's headless Chromium (playwright-core), tells
// the caller it is loaded, then waits - without reloading the page - for the
// router the caller adds to the configuration to appear, and saves a
// screenshot. Usage: node dashboard.mjs <dashboard-url> <router-name> <screenshot.png>
import { runInChromium } from "./chromium.mjs";

const [url, router, shot] = process.argv.slice(2);
await runInChromium({ viewport: { width: 1400, height: 900 } }, async (page) => {
  await page.goto(url);
  await page.waitForSelector("#status.ok", { timeout: 15000 });     // first poll done
  await page.waitForSelector('tr[data-router="app@file"]', { timeout: 15000 });
  console.log("loaded");                                            // the caller now adds a router
  await page.waitForSelector(`tr[data-router="${router}"]`, { timeout: 20000 });
  const row = await page.innerText(`tr[data-router="${router}"]`);
  console.log("row: " + row.replace(/\s+/g, " ").trim());
  const navigations = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  console.log("navigations: " + navigations);
  await page.screenshot({ path: shot, fullPage: true });
});
