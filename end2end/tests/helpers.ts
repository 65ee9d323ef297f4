import * as fs from "node:fs";
import { expect, type Locator, type Page, type TestInfo } from "@playwright/test";

export const ADMIN_USER = "admin";

/** Password of the `admin` account; the runner script reads it from the sandbox and exports it. */
export function adminPassword(): string {
  const password = process.env.CAIRN_ADMIN_PASSWORD;
  if (!password) {
    throw new Error("CAIRN_ADMIN_PASSWORD is not set (the admin password of the Cairn under test)");
  }
  return password;
}

/** Namespace the tests create databases in. */
export function e2eNamespace(): string {
  return process.env.CAIRN_E2E_NAMESPACE || "everest";
}

/** A database name unique to this run: lowercase RFC 1123 label, at most 22 characters. */
export function uniqueDbName(prefix = "pg"): string {
  const suffix = Date.now().toString(36).slice(-6) + Math.floor(Math.random() * 36 * 36).toString(36);
  return `${prefix}-${suffix}`.slice(0, 22);
}

/** Escapes a literal string for use inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * First navigation of a test: the server may still be starting (the runner starts it and the tests at about the
 * same time), so retry connection failures and 5xx answers up to 30 times, 500 ms apart.
 */
export async function gotoWithRetry(page: Page, path: string): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const response = await page.goto(path, { waitUntil: "load" });
      if (!response || response.status() < 500) return;
      lastError = new Error(`GET ${path} answered ${response.status()}`);
    } catch (error) {
      lastError = error;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`could not load ${path} after 30 attempts: ${String(lastError)}`);
}

/**
 * Waits until the page is loaded and its scripts (the wasm bundle) have been fetched, so that hydrated controls
 * react to clicks. Pages with a live event stream never reach `networkidle` (the SSE request stays open), so
 * that wait is bounded and its timeout is not an error.
 */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForLoadState("load");
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});
}

/** Asserts the current URL has this path (query and hash ignored). */
export async function expectPath(page: Page, path: string, options?: { timeout?: number }): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === path, options);
}

/** Logs in through the login page and lands on the databases list. */
export async function login(page: Page, username = ADMIN_USER, password = adminPassword()): Promise<void> {
  await gotoWithRetry(page, "/login");
  await expect(page.getByRole("heading", { name: "Log in to Cairn" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  // Failed logins from one IP space the next attempts out (another spec's wrong-password test, from the
  // same 127.0.0.1): the form then says "too many login attempts; try again in N s", and a person waits
  // and tries again.
  const throttled = page.getByText(/too many login attempts; try again in (\d+) s/);
  for (let attempt = 0; ; attempt++) {
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(async () => {
      expect(new URL(page.url()).pathname === "/" || (await throttled.isVisible())).toBe(true);
    }).toPass({ timeout: 20_000 });
    if (new URL(page.url()).pathname === "/" || attempt >= 5) break;
    const wait = Number(/in (\d+) s/.exec((await throttled.textContent()) ?? "")?.[1] ?? "1");
    await page.waitForTimeout((wait + 0.2) * 1000);
    // The attempt may still be on its way (the button stays disabled while it is) or have gone through
    // after all (the page moved on to the list): wait for either before submitting the form again.
    const button = page.getByRole("button", { name: "Log in" });
    await expect(async () => {
      expect(new URL(page.url()).pathname === "/" || (await button.isEnabled({ timeout: 1_000 }))).toBe(true);
    }).toPass({ timeout: 20_000 });
    if (new URL(page.url()).pathname === "/") break;
  }
  await expectPath(page, "/");
  await expect(page.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();
}

/** The databases table on `/`. */
export function databasesTable(page: Page): Locator {
  return page.getByRole("table", { name: "Databases" });
}

/** The row of one database in the list, found by its name. */
export function databaseRow(page: Page, name: string): Locator {
  return page.getByRole("row", { name: new RegExp(escapeRegExp(name)) });
}

/** Waits until the list has rendered: either the table or the empty-state message. */
export async function waitForDatabaseList(page: Page): Promise<void> {
  await expect(page.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();
  await expect(databasesTable(page).or(page.getByText("No databases yet"))).toBeVisible();
}

export interface DatabaseForm {
  name: string;
  /** The engine as the form names it (default PostgreSQL). */
  engine?: "PostgreSQL" | "MySQL" | "MongoDB";
  namespace?: string;
  cpu?: string;
  memory?: string;
  disk?: string;
  nodes?: string;
}

/**
 * Fills the "Create database" form. PostgreSQL gets its newest 17.x/16.x version; another engine gets the
 * first version offered (the form lists the recommended, newest first). Does not submit. The version list
 * follows the engine only once the page is hydrated: call waitForHydration first when choosing another engine.
 */
export async function fillDatabaseForm(page: Page, form: DatabaseForm): Promise<void> {
  await expect(page.getByRole("heading", { name: "Create database" })).toBeVisible();
  // exact: "Name" must not match "Namespace".
  await page.getByLabel("Name", { exact: true }).fill(form.name);
  await page.getByLabel("Namespace", { exact: true }).selectOption(form.namespace ?? e2eNamespace());
  const engine = form.engine ?? "PostgreSQL";
  await page.getByLabel("Engine", { exact: true }).selectOption({ label: engine });

  const version = page.getByLabel("Version", { exact: true });
  let wanted: string | undefined;
  if (engine === "PostgreSQL") {
    const versions = (await version.getByRole("option").allTextContents()).map((v) => v.trim());
    wanted =
      versions.find((v) => /^17\./.test(v)) ?? versions.find((v) => /^16\./.test(v)) ?? versions.find((v) => v !== "");
    expect(wanted, `a PostgreSQL version among ${JSON.stringify(versions)}`).toBeTruthy();
  } else {
    // MySQL offers 8.x versions, MongoDB 6.x–8.x: wait until the list shows this engine's versions.
    const first = version.getByRole("option").first();
    await expect(first).not.toHaveText(/^1[3-7]\./);
    wanted = (await first.textContent())?.trim();
  }
  await version.selectOption({ label: wanted! });

  await wizardStep(page, "Resources");
  const nodes = page.getByLabel("Nodes", { exact: true });
  const nodesTag = await nodes.evaluate((el) => el.tagName.toLowerCase());
  if (nodesTag === "select") {
    await nodes.selectOption(form.nodes ?? "1");
  } else {
    await nodes.fill(form.nodes ?? "1");
  }

  await page.getByLabel("CPU", { exact: true }).fill(form.cpu ?? "1");
  await page.getByLabel("Memory", { exact: true }).fill(form.memory ?? "2G");
  await page.getByLabel("Disk", { exact: true }).fill(form.disk ?? "25G");
}

/**
 * Opens a step of the create wizard ("Basic information", "Resources", "Backups", "Advanced configuration",
 * "Monitoring"). Once hydrated the wizard shows one step at a time; before, every step shows anyway.
 */
export async function wizardStep(page: Page, step: string): Promise<void> {
  await waitForHydration(page);
  const link = page.getByRole("navigation", { name: "Create database steps" }).getByRole("link", { name: step });
  await link.click();
  await expect(link).toHaveAttribute("aria-current", "step");
}

/** Clicks the form's submit button (the header link of the same name is a link, not a button). */
export async function submitDatabaseForm(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Create database" }).click();
}

export interface PageProblems {
  consoleErrors: string[];
  badResponses: string[];
}

/** A login throttled because another spec's wrong password came from the same 127.0.0.1 (see `login`). */
const THROTTLED_LOGIN = /status of 429 .*\/api\/login/;

/**
 * Records console errors, uncaught page errors and HTTP responses >= 400 (except the favicon, the statuses
 * passed in `allowedStatuses`, for tests that expect rejections, and a throttled login, which `login` waits
 * out and retries as a person would). Assert on the result at the end of a test.
 */
export function collectProblems(page: Page, allowedStatuses: number[] = []): PageProblems {
  const problems: PageProblems = { consoleErrors: [], badResponses: [] };
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const location = message.location()?.url ?? "";
    if (/favicon\.ico/.test(location) || /favicon\.ico/.test(message.text())) return;
    if (THROTTLED_LOGIN.test(`${message.text()} (${location})`)) return;
    problems.consoleErrors.push(`${message.text()} (${location})`);
  });
  page.on("pageerror", (error) => problems.consoleErrors.push(`uncaught: ${error.message}`));
  page.on("response", (response) => {
    const status = response.status();
    if (status < 400 || allowedStatuses.includes(status)) return;
    if (/\/favicon\.ico(\?|$)/.test(response.url())) return;
    if (status === 429 && new URL(response.url()).pathname === "/api/login") return;
    problems.badResponses.push(`${status} ${response.request().method()} ${response.url()}`);
  });
  return problems;
}

export function expectNoProblems(problems: PageProblems): void {
  expect(problems.consoleErrors, "console errors").toEqual([]);
  expect(problems.badResponses, "HTTP responses >= 400").toEqual([]);
}

/** The header's account menu button ("Account <user>"). */
export function accountMenu(page: Page): Locator {
  return page.getByRole("button", { name: /^Account / });
}

/** Logs out through the account menu (retried: a click that lands before hydration can be lost). */
export async function logOut(page: Page): Promise<void> {
  await expect(async () => {
    if (new URL(page.url()).pathname !== "/login") {
      const item = page.getByRole("button", { name: "Log out" });
      if (!(await item.isVisible())) await accountMenu(page).click({ timeout: 2_000 });
      await item.click({ timeout: 2_000 });
    }
    await expectPath(page, "/login", { timeout: 3_000 });
  }).toPass({ timeout: 20_000 });
}

/** Opens a database's actions menu (on its row, or on its page when `scope` is the page). */
export async function openActions(scope: Page | Locator, name: string): Promise<void> {
  const button = scope.getByRole("button", { name: `Actions for ${name}` });
  await expect(async () => {
    if ((await button.getAttribute("aria-expanded")) !== "true") await button.click({ timeout: 2_000 });
    await expect(button).toHaveAttribute("aria-expanded", "true", { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
}

/** Runs axe (axe-core from npm, evaluated in the page: the strict CSP would block an injected script tag)
 * and asserts no serious or critical violation. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const source = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(
    async () => {
      // @ts-expect-error axe is defined by the evaluated source
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target })) }));
    },
  );
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad, `serious/critical axe violations on ${what}`).toEqual([]);
}

/** Full-page screenshots at 390 px (a phone) and 1440 px, kept as artifacts; the page must not scroll
 * sideways at either width. Restores the previous viewport. */
export async function screenshotBothWidths(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const before = page.viewportSize();
  for (const [width, height] of [[390, 844], [1440, 900]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${name} scrolls sideways at ${width} px`).toBeLessThanOrEqual(0);
    await page.screenshot({ path: testInfo.outputPath(`${name}-${width}.png`), fullPage: true });
  }
  if (before) await page.setViewportSize(before);
}

/** The stack's real S3 server (moto, bucket CAIRN_S3_BUCKET); scripts/stack.sh exports its endpoint and keys. */
export function s3(): { endpoint: string; accessKey: string; secretKey: string; bucket: string } {
  const need = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set (the object storage of the stack under test)`);
    return v;
  };
  return {
    endpoint: need("CAIRN_S3_ENDPOINT"),
    accessKey: need("CAIRN_S3_ACCESS_KEY"),
    secretKey: need("CAIRN_S3_SECRET_KEY"),
    bucket: need("CAIRN_S3_BUCKET"),
  };
}

/** Adds storage location `name` (the stack's S3 bucket) in the test namespace, through Settings → Storage locations. */
export async function addS3Storage(page: Page, name: string): Promise<void> {
  const store = s3();
  await gotoWithRetry(page, "/settings/storage-locations");
  await waitForHydration(page);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Namespace").selectOption(e2eNamespace());
  await page.getByLabel("Type").selectOption("s3");
  await page.getByLabel("Bucket (or Azure container)").fill(store.bucket);
  await page.getByLabel("Region").fill("us-east-1");
  await page.getByLabel("Endpoint URL").fill(store.endpoint);
  await page.getByLabel("Access key (Azure: account name)").fill(store.accessKey);
  await page.getByLabel("Secret key (Azure: account key)").fill(store.secretKey);
  await page.getByLabel("Path-style URLs (most S3-compatible servers)").check();
  await page.getByRole("button", { name: "Add storage location" }).click();
  await expect(page.getByRole("heading", { name, exact: true })).toBeVisible({ timeout: 30_000 });
}
