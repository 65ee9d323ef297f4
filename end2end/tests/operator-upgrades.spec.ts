import { expect, test } from "@playwright/test";
import { collectProblems, gotoWithRetry, login, screenshotBothWidths, waitForHydration } from "./helpers";

// Settings → Operator upgrades (contract §2.6): the sandbox's upgrade namespace (scripts/stack.sh,
// CAIRN_SANDBOX_UPGRADE_NAMESPACE) runs the older operators, so the page shows their upgrade plan; the
// approval needs the confirmation, locks the namespace while the operators move (the simulator plays the
// charts' upgrade, as `cairn namespaces update` would), and afterwards the operators are up to date.
// It approves the upgrade for good: run it once per stack (as scripts/test.sh does).

const NS = process.env.CAIRN_E2E_UPGRADE_NAMESPACE || "everest-upgrade";

test("an operator upgrade plan is shown, confirmed, approved and carried out", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  // 400: the approval without the confirmation.
  const problems = collectProblems(page, [400]);
  await login(page);
  await gotoWithRetry(page, "/settings/operator-upgrades");
  await waitForHydration(page);
  await expect(page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Operator upgrades" })).toHaveAttribute(
    "aria-current",
    "page",
  );

  // The plan: each older operator with its installed and available version; no database to check there.
  const section = page.getByRole("region", { name: `Operators in ${NS}` });
  const table = section.getByRole("table", { name: `Operator upgrades in ${NS}` });
  await expect(async () => {
    // The simulated operators roll out a few seconds after the stack starts.
    await page.reload();
    await expect(table.getByRole("row")).toHaveCount(4, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(table.getByRole("row", { name: /percona-postgresql-operator/ })).toHaveText(/percona-postgresql-operator\s*2\.7\.0\s*2\.8\.2/);
  await expect(table.getByRole("row", { name: /percona-xtradb-cluster-operator/ })).toHaveText(/1\.18\.0\s*1\.19\.0/);
  await expect(table.getByRole("row", { name: /percona-server-mongodb-operator/ })).toHaveText(/1\.21\.1\s*1\.21\.2/);
  await expect(section).toContainText("nothing to check");
  // The sandbox's own namespace runs the current operators.
  await expect(page.getByRole("region", { name: "Operators in everest", exact: true })).toContainText("The operators are up to date.");
  await screenshotBothWidths(page, testInfo, "operator-upgrades");

  // Without the confirmation nothing is approved: the reason shows beside the form (once the wasm runs it:
  // the debug wasm can take a while on a busy machine).
  await expect(section.locator("form[data-hydrated=true]")).toHaveCount(1, { timeout: 60_000 });
  await section.getByRole("button", { name: "Upgrade operators" }).click();
  await expect(page.getByRole("alert")).toContainText("tick the box to confirm the operator upgrade");
  await expect(table).toBeVisible();

  // Confirmed: approved; the namespace is locked until the operators run the new versions, then up to date.
  await section.getByLabel(`I understand that database changes in ${NS} wait until the upgrade is done`).check();
  await section.getByRole("button", { name: "Upgrade operators" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Approved for ${NS}` })).toContainText("percona-postgresql-operator 2.8.2");
  // The new versions show first, the lock lifts once their Deployments have rolled out.
  await expect(async () => {
    await page.reload();
    const done = page.getByRole("region", { name: `Operators in ${NS}` });
    await expect(done).toContainText("The operators are up to date.", { timeout: 2_000 });
    await expect(done.getByRole("status")).toHaveCount(0, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  const engines = await (await page.request.get(`/v1/namespaces/${NS}/database-engines`)).json();
  const versions = Object.fromEntries(
    engines.items.map((e: { metadata: { name: string }; status: { operatorVersion: string } }) => [e.metadata.name, e.status.operatorVersion]),
  );
  expect(versions).toEqual({
    "percona-postgresql-operator": "2.8.2",
    "percona-server-mongodb-operator": "1.21.2",
    "percona-xtradb-cluster-operator": "1.19.0",
  });
  // The browser logs the refused approval's 400 as a failed resource load: that one is expected.
  expect(problems.badResponses, "HTTP responses >= 400").toEqual([]);
  expect(problems.consoleErrors.filter((e) => !/status of 400 .*\/api\/approve_operator_upgrade/.test(e)), "console errors").toEqual([]);
});
