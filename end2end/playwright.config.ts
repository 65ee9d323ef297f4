import { defineConfig } from "@playwright/test";

// End-to-end tests for Cairn's UI. They drive Debian's Chromium (/usr/bin/chromium): Playwright's own browser
// download cannot work on the build machines. The server (and the engine simulator that makes databases become
// ready) is started by the test runner script; this project only needs BASE_URL.
//
// Env:
//   BASE_URL              where Cairn serves the UI (default http://127.0.0.1:3000)
//   CAIRN_ADMIN_PASSWORD  password of the `admin` account (required by the tests that log in)
//   CAIRN_E2E_NAMESPACE   namespace to create databases in (default `everest`)
//   CHROMIUM_PATH         browser executable (default /usr/bin/chromium)
//   CAIRN_E2E_WORKERS     spec files run at once (default 2); each spec names its own databases, storages and
//                         endpoints, so they share the stack's namespace safely
export default defineConfig({
  testDir: "./tests",
  outputDir: "test-results",
  timeout: 60_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: Number(process.env.CAIRN_E2E_WORKERS ?? 2),
  retries: 0,
  reporter: "list",
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    browserName: "chromium",
    headless: true,
    // Traces of failed tests keep their DOM snapshots, network and console; without the screencast (a JPEG
    // per frame for every test, kept only when one fails), which cost ~40 of the ~345 CPU-s the suite takes.
    trace: { mode: "retain-on-failure", screenshots: false },
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
