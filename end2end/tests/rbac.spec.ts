import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import {
  adminPassword,
  databaseRow,
  e2eNamespace,
  login,
  openActions,
  uniqueDbName,
  waitForDatabaseList,
  waitForHydration,
} from "./helpers";

// RBAC in the browser: with a policy that makes a user read-only, that user sees the databases but no
// "Create database" and no per-row "Delete"; a direct create request with the user's session is refused
// with 403. The policy is written with `cairn settings rbac apply` against the stack's cluster (KUBECONFIG,
// exported by scripts/stack.sh) and put back to the chart default (disabled) afterwards, so the other tests
// (which use admin) are unaffected either way.

/** The `cairn` binary of the stack under test. */
function cairnBin(): string {
  if (process.env.CAIRN_BIN) return process.env.CAIRN_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(__dirname, "..", "..", "target");
  return path.join(target, "debug", "cairn");
}

function cairn(args: string[], input?: string): string {
  return execFileSync(cairnBin(), args, { input, encoding: "utf8", env: process.env });
}

function applyPolicy(enabled: boolean, policy: string): void {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cairn-rbac-")), "policy.csv");
  fs.writeFileSync(file, policy);
  cairn(["settings", "rbac", "apply", "--enabled", String(enabled), "--policy-file", file]);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

/** The origin under test: state-changing requests carry it, as a browser's own requests do (Cairn refuses
 * cookie-carrying writes from elsewhere). */
function origin(): string {
  return new URL(process.env.BASE_URL ?? "http://127.0.0.1:3000").origin;
}

async function token(request: APIRequestContext, username: string, password: string): Promise<string> {
  // A 429 (another spec's failed logins from this IP space attempts out) is waited out as Retry-After says.
  let resp = await request.post("/v1/session", { data: { username, password }, headers: { Origin: origin() } });
  for (let attempt = 0; resp.status() === 429 && attempt < 5; attempt++) {
    await new Promise((r) => setTimeout(r, (Number(resp.headers()["retry-after"] ?? "1") + 0.2) * 1000));
    resp = await request.post("/v1/session", { data: { username, password }, headers: { Origin: origin() } });
  }
  expect(resp.status(), `login of ${username}`).toBe(200);
  return (await resp.json()).token;
}

function pgCluster(name: string) {
  return {
    apiVersion: "everest.percona.com/v1alpha1",
    kind: "DatabaseCluster",
    metadata: { name },
    spec: {
      engine: { type: "postgresql", replicas: 1, storage: { size: "2G" }, resources: { cpu: "1", memory: "2G" } },
    },
  };
}

const DEFAULT_POLICY = "g, admin, role:admin\n";
const READER = `ro-${Date.now().toString(36)}`;
const READER_PASSWORD = "reader-password-1";
const DB = uniqueDbName("rbac");

test.describe("RBAC", () => {
  test.beforeAll(async ({ request }) => {
    cairn(["accounts", "create", "-u", READER, "--password-stdin"], `${READER_PASSWORD}\n`);
    applyPolicy(
      true,
      [
        "g, admin, role:admin",
        "p, role:readonly, database-clusters, read, */*",
        "p, role:readonly, namespaces, read, *",
        `g, ${READER}, role:readonly`,
      ].join("\n"),
    );
    // The account was just written: the first login works even before the server's watch delivers it (a
    // refused login reads the accounts once). The policy is then picked up from its watch: wait until the
    // reader's permissions show it.
    const readerToken = await token(request, READER, READER_PASSWORD);
    await expect(async () => {
      const resp = await request.get("/v1/permissions", { headers: { Authorization: `Bearer ${readerToken}` } });
      expect(await resp.json()).toEqual({
        enabled: true,
        permissions: [
          ["role:readonly", "database-clusters", "read", "*/*"],
          ["role:readonly", "namespaces", "read", "*"],
        ],
      });
    }).toPass({ timeout: 20_000 });
    // One database for the list, created by admin.
    const adminToken = await token(request, "admin", adminPassword());
    const resp = await request.post(`/v1/namespaces/${e2eNamespace()}/database-clusters`, {
      headers: { Authorization: `Bearer ${adminToken}` },
      data: pgCluster(DB),
    });
    expect(resp.status(), await resp.text()).toBe(200);
  });

  test.afterAll(() => {
    applyPolicy(false, DEFAULT_POLICY);
    cairn(["accounts", "delete", "-u", READER]);
  });

  test("a read-only user sees the list but no create or delete, and a direct create is refused", async ({ page }, testInfo) => {
    await login(page, READER, READER_PASSWORD);
    await waitForDatabaseList(page);
    await expect(databaseRow(page, DB)).toBeVisible();
    await expect(page.getByText("Your role does not allow creating databases.")).toBeVisible();
    await expect(page.getByRole("link", { name: "Create database" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: /^Delete / })).toHaveCount(0);
    // The row's actions are there, each disabled with the reason.
    await waitForHydration(page);
    const row = databaseRow(page, DB);
    await openActions(row, DB);
    for (const action of ["Suspend", "Restart", "Delete"]) {
      await expect(row.getByRole("button", { name: new RegExp(`^${action}`) })).toBeDisabled();
    }
    await expect(row.getByText("your role does not allow deleting this database")).toBeVisible();
    await page.keyboard.press("Escape");
    await page.screenshot({ path: testInfo.outputPath("rbac-read-only-list.png"), fullPage: true });

    // The create page offers no form either.
    await page.goto("/databases/new");
    await expect(page.getByRole("alert").filter({ hasText: "Your role does not allow creating databases" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Create database" })).toHaveCount(0);

    // A direct request with the same session is refused by the server.
    // (Same-origin, as the page's own requests are, so the refusal is RBAC's and not the cross-site check's.)
    const create = await page.request.post(`/v1/namespaces/${e2eNamespace()}/database-clusters`, {
      data: pgCluster(uniqueDbName("denied")),
      headers: { Origin: origin() },
    });
    expect(create.status()).toBe(403);
    expect((await create.json()).message).toContain(`forbidden: ${READER} may not create database-clusters`);
    const del = await page.request.delete(`/v1/namespaces/${e2eNamespace()}/database-clusters/${DB}`, {
      headers: { Origin: origin() },
    });
    expect(del.status()).toBe(403);
    expect((await del.json()).message).toContain(`forbidden: ${READER} may not delete database-clusters`);
  });

  test("admin sees the actions and deletes the database from its row", async ({ page }) => {
    await login(page);
    await waitForDatabaseList(page);
    await expect(page.getByRole("link", { name: "Create database" })).toBeVisible();
    const row = databaseRow(page, DB);
    await expect(row).toBeVisible();
    await waitForHydration(page);
    await openActions(row, DB);
    await row.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: `Delete ${DB}?` });
    await dialog.getByLabel(`Type ${DB} to confirm`).fill(DB);
    await dialog.getByRole("button", { name: "Delete database" }).click();
    // The database goes once the operator lets go (the reconciler re-checks a pending upstream deletion
    // every 5 s should it miss the event).
    await expect(databaseRow(page, DB)).toHaveCount(0, { timeout: 60_000 });
  });
});
