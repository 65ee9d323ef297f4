import { expect, test, type Page } from "@playwright/test";
import {
  collectProblems,
  databaseRow,
  e2eNamespace,
  expectAccessible,
  expectNoProblems,
  expectPath,
  gotoWithRetry,
  login,
  openActions,
  screenshotBothWidths,
  uniqueDbName,
  waitForDatabaseList,
  waitForHydration,
} from "./helpers";

// The database's own page and its day-2 actions: open it from the list, read how to connect (the exact
// port-forward command, copied), suspend and resume it, restart it, delete it keeping its backups; and the
// quality bar of every page (titles, 404, no sideways scroll at 390 px and 1440 px, axe, keyboard, no JS).

const NS = e2eNamespace();

/** Same-origin writes, as the page's own requests are (Cairn refuses cookie-carrying cross-site writes). */
function origin(): string {
  return new URL(process.env.BASE_URL ?? "http://127.0.0.1:3000").origin;
}

/** Creates a 1-node PostgreSQL database with the logged-in page's session (optionally of a given version). */
async function createPg(page: Page, name: string, version?: string): Promise<void> {
  const engine: Record<string, unknown> = { type: "postgresql", replicas: 1, storage: { size: "2G" }, resources: { cpu: "1", memory: "2G" } };
  if (version) engine.version = version;
  const resp = await page.request.post(`/v1/namespaces/${NS}/database-clusters`, {
    headers: { Origin: origin() },
    data: { apiVersion: "everest.percona.com/v1alpha1", kind: "DatabaseCluster", metadata: { name }, spec: { engine } },
  });
  expect(resp.status(), await resp.text()).toBe(200);
}

async function openDatabase(page: Page, name: string): Promise<void> {
  await gotoWithRetry(page, "/databases");
  await waitForDatabaseList(page);
  await databaseRow(page, name).getByRole("link", { name }).click();
  await expectPath(page, `/databases/${NS}/${name}/overview`);
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  await waitForHydration(page);
}

/** The status badge in the page header. */
function headerStatus(page: Page, status: string) {
  return page.getByRole("main").locator("span.badge", { hasText: new RegExp(`^${status}$`) });
}

test("open a database: status, connection, port-forward command copied, tabs, every page accessible", async ({ page, context }, testInfo) => {
  test.setTimeout(150_000);
  const problems = collectProblems(page);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: origin() });
  const name = uniqueDbName("page");
  await gotoWithRetry(page, "/login");
  await screenshotBothWidths(page, testInfo, "login");
  await expectAccessible(page, "the login page");
  await expect(page).toHaveTitle("Log in · Cairn");
  await login(page);
  await createPg(page, name);

  // The list: each row links to its page; the list fits a phone.
  await gotoWithRetry(page, "/databases");
  await expect(page).toHaveTitle("Databases · Cairn");
  await expect(databaseRow(page, name).getByText("Ready")).toBeVisible({ timeout: 60_000 });
  await screenshotBothWidths(page, testInfo, "databases");
  await expectAccessible(page, "the databases list");

  await openDatabase(page, name);
  await expect(page).toHaveTitle(`${name} · Overview · Cairn`);
  await expect(headerStatus(page, "Ready")).toBeVisible();
  await expect(page.getByText("Ready: 3 of 3 pods ready.").or(page.getByText(/^Ready: \d+ of \d+ pods ready\.$/))).toBeVisible();

  // Connection details and the exact port-forward command (PgBouncer's Service), copied.
  const connection = page.getByRole("region", { name: "Connection" });
  await expect(connection).toContainText(`${name}-pgbouncer.${NS}.svc`);
  await expect(connection).toContainText("5432");
  await expect(connection).toContainText("postgres");
  const command = `kubectl port-forward -n ${NS} svc/${name}-pgbouncer 5432:5432`;
  await expect(page.getByRole("group", { name: "Port-forward command" })).toContainText(command);
  await page.getByRole("button", { name: "Copy port-forward command" }).click();
  await expect(page.getByRole("status").getByText("Copied to the clipboard")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(command);
  // The local connection string gets the password once revealed.
  const creds = await (await page.request.get(`/v1/namespaces/${NS}/database-clusters/${name}/credentials`)).json();
  await expect(page.getByRole("group", { name: "Local connection string" })).toContainText("postgres://postgres:PASSWORD@127.0.0.1:5432");
  await connection.getByRole("button", { name: "Reveal password" }).click();
  await expect(connection).toContainText(creds.password);
  await expect(page.getByRole("group", { name: "Local connection string" })).toContainText(
    `postgres://postgres:${encodeURIComponent(creds.password)}@127.0.0.1:5432`,
  );

  // The upstream status on demand; resources.
  await page.getByRole("button", { name: "Show status details" }).click();
  await expect(page.getByRole("region", { name: "Status details" })).toContainText("state");
  await expect(page.getByRole("region", { name: "Resources" })).toContainText("2G");
  await screenshotBothWidths(page, testInfo, "database-overview");
  await expectAccessible(page, "the database overview");

  // The tabs are links with their own URLs and titles.
  for (const [tab, label] of [["backups", "Backups"], ["restores", "Restores"], ["components", "Components"]]) {
    await page.getByRole("navigation", { name: "Database sections" }).getByRole("link", { name: label }).click();
    await expectPath(page, `/databases/${NS}/${name}/${tab}`);
    await expect(page).toHaveTitle(`${name} · ${label} · Cairn`);
    await expect(page.getByRole("heading", { name: label, level: 2 })).toBeVisible();
    if (tab === "components") {
      // The Pods the operator runs (here the simulator), as it names them, live from the server's watch.
      const pods = page.getByRole("table", { name: "Pods" });
      await expect(pods).toContainText(`${name}-repo-host-0`);
      await expect(pods.getByRole("row", { name: new RegExp(`^${name}-instance1-\\S+-0 pg Running 4/4`) })).toBeVisible();
      await expect(pods.getByRole("row", { name: new RegExp(`^${name}-pgbouncer-`) })).toBeVisible();
    }
    await screenshotBothWidths(page, testInfo, `database-${tab}`);
    await expectAccessible(page, `the ${label} tab`);
  }

  // OpenEverest's URLs: the page without a tab opens its overview.
  await page.goto(`/databases/${NS}/${name}`);
  await expectPath(page, `/databases/${NS}/${name}/overview`);

  // The create form, at both widths, accessible.
  await page.goto("/databases/new");
  await expect(page).toHaveTitle("Create database · Cairn");
  await screenshotBothWidths(page, testInfo, "create-database");
  await expectAccessible(page, "the create form");
  expectNoProblems(problems);
});

test("suspend, resume and restart a database from its page, with toasts", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const name = uniqueDbName("act");
  await login(page);
  await createPg(page, name);
  await openDatabase(page, name);
  await expect(headerStatus(page, "Ready")).toBeVisible({ timeout: 60_000 });

  await openActions(page, name);
  await page.getByRole("button", { name: "Suspend", exact: true }).click();
  await expect(page.getByRole("status").getByText("Suspend requested")).toBeVisible();
  await expect(headerStatus(page, "Paused")).toBeVisible({ timeout: 60_000 });
  // While suspended, Restart says why it is unavailable.
  await openActions(page, name);
  await expect(page.getByRole("button", { name: /^Restart/ })).toBeDisabled();
  await expect(page.getByText("the database is suspended: resume it instead")).toBeVisible();
  await screenshotBothWidths(page, testInfo, "database-actions-menu");
  await page.getByRole("button", { name: "Resume", exact: true }).click();
  await expect(page.getByRole("status").getByText("Resume requested")).toBeVisible();
  await expect(headerStatus(page, "Ready")).toBeVisible({ timeout: 60_000 });

  // Restart asks first (Escape cancels), then the database stops and comes back by itself.
  await openActions(page, name);
  await page.getByRole("button", { name: "Restart", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Restart ${name}?` });
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await openActions(page, name);
  await page.getByRole("button", { name: "Restart", exact: true }).click();
  await dialog.getByRole("button", { name: "Restart" }).click();
  await expect(page.getByRole("status").getByText(/Restart requested/)).toBeVisible();
  const restarted = await page.request.get(`/v1/namespaces/${NS}/database-clusters/${name}`);
  const annotations = (await restarted.json()).metadata.annotations ?? {};
  // The reconciler may already have consumed the annotation; either it is there or the status left Ready.
  if (annotations["everest.percona.com/restart"] !== "true") {
    await expect(headerStatus(page, "Ready")).toBeVisible();
  }
  await expect(headerStatus(page, "Ready")).toBeVisible({ timeout: 90_000 });
});

/** A PostgreSQL version with a newer one of the same major (so an upgrade is allowed), and that newer one. */
async function upgradablePgVersion(page: Page): Promise<[string, string]> {
  const engine = await (await page.request.get(`/v1/namespaces/${NS}/database-engines/percona-postgresql-operator`)).json();
  const versions = Object.keys(engine.status.availableVersions.engine);
  const key = (v: string) => v.split(/[.-]/).map((x) => Number(x) || 0);
  const cmp = (a: string, b: string) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  };
  versions.sort(cmp);
  for (const v of versions) {
    const newer = versions.filter((w) => key(w)[0] === key(v)[0] && cmp(w, v) > 0);
    if (newer.length) return [v, newer[newer.length - 1]];
  }
  throw new Error(`no upgradable PostgreSQL version among ${versions}`);
}

test("scale, grow the disk and upgrade the version from the overview", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("edit");
  await login(page);
  const [from, to] = await upgradablePgVersion(page);
  await createPg(page, name, from);
  await openDatabase(page, name);
  await expect(headerStatus(page, "Ready")).toBeVisible({ timeout: 60_000 });
  const resources = page.getByRole("region", { name: "Resources" });

  // Scale to 2 nodes and grow the disk: the dialog says what restarts (nothing does for these).
  await resources.getByRole("button", { name: "Edit resources" }).click();
  const dialog = page.getByRole("dialog", { name: `Edit the resources of ${name}` });
  await dialog.getByLabel("Nodes", { exact: true }).fill("2");
  await dialog.getByLabel("Disk per node").fill("5G");
  await expect(dialog.getByRole("status")).toContainText("Pods are added or removed");
  await expect(dialog.getByRole("status")).toContainText("The volumes grow in place");
  // Shrinking is refused beside the field, nothing written.
  await dialog.getByLabel("Disk per node").fill("1G");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog.getByRole("alert")).toContainText("Disk: cannot shrink");
  await dialog.getByLabel("Disk per node").fill("5G");
  // The Preview: exactly what Save will write (the API server's dry runs of the DatabaseCluster and of the
  // operator's CR), nothing saved yet.
  await dialog.getByRole("button", { name: "Preview" }).click();
  await expect(dialog.getByLabel("DatabaseCluster YAML")).toContainText("size: 5G");
  await expect(dialog.getByLabel("DatabaseCluster YAML")).toContainText("replicas: 2");
  await expect(dialog.getByLabel("PerconaPGCluster YAML")).toContainText("kind: PerconaPGCluster");
  const unchanged = await (await page.request.get(`/v1/namespaces/${NS}/database-clusters/${name}`)).json();
  expect(unchanged.spec.engine.replicas).toBe(1);
  await screenshotBothWidths(page, testInfo, "database-edit-resources");
  await expectAccessible(page, "the resources dialog");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").getByText(/Changes saved/)).toBeVisible();
  await expect(dialog).toBeHidden();
  await expect(resources).toContainText("5G");
  const stored = await (await page.request.get(`/v1/namespaces/${NS}/database-clusters/${name}`)).json();
  expect(stored.spec.engine.replicas).toBe(2);
  expect(stored.spec.engine.storage.size).toBe("5G");

  // Upgrade: only allowed versions are offered. The server refuses it while the volumes are being resized,
  // and the header shows the Ready of before the save until the operator starts the resize: wait for the
  // resize to be seen and to end.
  await expect(headerStatus(page, "Resizing volumes")).toBeVisible({ timeout: 60_000 });
  await expect(headerStatus(page, "Ready")).toBeVisible({ timeout: 90_000 });
  await resources.getByRole("button", { name: "Upgrade version" }).click();
  const upgrade = page.getByRole("dialog", { name: `Upgrade ${name}` });
  // (The choices load with the dialog: wait for them before reading them all.)
  await expect(upgrade.getByLabel("New version").locator("option", { hasText: to })).toHaveCount(1);
  const offered = (await upgrade.getByLabel("New version").getByRole("option").allTextContents()).map((v) => v.trim());
  expect(offered).toContain(to);
  expect(offered.every((v) => v.split(".")[0] === from.split(".")[0])).toBe(true);
  await upgrade.getByLabel("New version").selectOption(to);
  await upgrade.getByRole("button", { name: "Upgrade" }).click();
  await expect(upgrade).toBeHidden();
  await expect(page.getByRole("main")).toContainText(`PostgreSQL ${to}`);
  expectNoProblems(problems);
});

test("delete a database from its page, keeping its backups' data", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const name = uniqueDbName("del");
  await login(page);
  await createPg(page, name);
  await openDatabase(page, name);

  await openActions(page, name);
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Delete ${name}?` });
  await expect(dialog).toBeVisible();
  const confirm = dialog.getByRole("button", { name: "Delete database" });
  await expect(confirm).toBeDisabled();
  await expect(dialog.getByLabel("Keep backups data")).toBeChecked();
  await dialog.getByLabel(`Type ${name} to confirm`).fill(name.slice(0, -1));
  await expect(confirm).toBeDisabled();
  await screenshotBothWidths(page, testInfo, "database-delete-dialog");
  await expectAccessible(page, "the delete dialog");
  // Keyboard: typing the name and Enter submits.
  await dialog.getByLabel(`Type ${name} to confirm`).fill(name);
  await dialog.getByLabel(`Type ${name} to confirm`).press("Enter");
  await expectPath(page, "/databases");
  await expect(page.getByRole("status").getByText("Delete requested")).toBeVisible();
  await expect(databaseRow(page, name)).toHaveCount(0, { timeout: 60_000 });
});

test("quality bar: 404 page, no-JavaScript list and login error, keyboard login", async ({ page, browser }, testInfo) => {
  await login(page);
  const resp = await page.goto("/no/such/page");
  expect(resp?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page).toHaveTitle("Page not found · Cairn");
  await screenshotBothWidths(page, testInfo, "not-found");
  await expectAccessible(page, "the 404 page");
  await page.getByRole("link", { name: "Go to the databases" }).click();
  await expectPath(page, "/databases");

  // Without JavaScript the list is rendered by the server, and a failed login shows its message as a page.
  const cookies = await page.context().cookies();
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await nojs.newPage();
  await p2.goto("/login");
  await p2.getByLabel("Username").fill("admin");
  await p2.getByLabel("Password").fill("not-the-password");
  await p2.getByRole("button", { name: "Log in" }).click();
  await expectPath(p2, "/login");
  await expect(p2.getByRole("alert")).toHaveText("Invalid username or password");
  await expect(p2.locator("body")).not.toContainText("ServerError");
  await nojs.addCookies(cookies);
  await p2.goto("/databases");
  await expect(p2.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();
  await expect(p2.getByText("Loading databases…")).toHaveCount(0);
  await expect(p2.getByRole("table", { name: "Databases" }).or(p2.getByText("No databases yet"))).toBeVisible();
  await nojs.close();

  // Keyboard only: log out through the account menu, log in with Tab and Enter.
  await page.goto("/databases");
  await waitForHydration(page);
  await page.getByRole("button", { name: /^Account / }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Log out" }).focus();
  await page.keyboard.press("Enter");
  await expectPath(page, "/login");
  await waitForHydration(page);
  await page.getByLabel("Username").focus();
  await page.keyboard.type("admin");
  await page.keyboard.press("Tab");
  await page.keyboard.type(process.env.CAIRN_ADMIN_PASSWORD ?? "");
  await page.keyboard.press("Enter");
  await expectPath(page, "/");
});
