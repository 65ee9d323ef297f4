import { expect, test, type Page } from "@playwright/test";
import {
  addS3Storage,
  collectProblems,
  e2eNamespace,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
  wizardStep,
} from "./helpers";

// Restoring from a backup by its path in a storage location (`spec.dataSource.backupSource`): in place from
// the Restores tab (as backed up, and to the latest moment its logs reach), and into a new database at a
// point in time from the create form; each refused input (a missing or future date too) is named beside it.
// And the create form's backup fields without JavaScript: shown by the server, posted as a plain form.

/** Creates a MySQL database through the wizard and waits until it is listed. */
async function createMysql(page: Page, name: string): Promise<void> {
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
  await fillDatabaseForm(page, { name, engine: "MySQL" });
  await submitDatabaseForm(page);
  await expectPath(page, "/");
}

test("restore a backup by its storage path, in place and into a new database", async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  const problems = collectProblems(page, [400, 409]);
  const ns = e2eNamespace();
  await login(page);
  const storage = uniqueDbName("s3p");
  await addS3Storage(page, storage);
  const db = uniqueDbName("pth");
  await createMysql(page, db);

  // A backup, and where its data is (the Backups tab shows its location).
  await gotoWithRetry(page, `/databases/${ns}/${db}/backups`);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Back up now" }).click();
  const now = page.getByRole("dialog", { name: "Back up now" });
  await now.getByLabel("Storage location").selectOption(storage);
  await now.getByRole("button", { name: "Start backup" }).click();
  const item = page.getByRole("list", { name: "Backups" }).getByRole("listitem").first();
  await expect(item).toContainText("Succeeded", { timeout: 120_000 });
  const location = (await item.getByTestId("backup-location").textContent())!.trim();
  expect(location).toMatch(/^s3:\/\/.+\/.+/);

  // Restores tab → Restore from a path: an empty path is refused beside the path, nothing is written.
  await gotoWithRetry(page, `/databases/${ns}/${db}/restores`);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Restore from a path" }).click();
  const dialog = page.getByRole("dialog", { name: "Restore from a path" });
  // (The namespace may have other specs' storages: choose this one.)
  await dialog.getByLabel("Storage location").selectOption(storage);
  await dialog.getByLabel("This database (its current data is replaced)").check();
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog.locator("#path-restore-path-error")).toContainText("enter the backup's path");
  await expect(page.getByRole("list", { name: "Restores" })).toHaveCount(0);

  // With the backup's location: the restore runs in place and succeeds (the simulator reads the objects back).
  await dialog.getByLabel("Backup path").fill(location);
  await page.screenshot({ path: testInfo.outputPath("restore-from-path-dialog.png"), fullPage: true });
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog).toBeHidden();
  const restore = page.getByRole("list", { name: "Restores" }).getByRole("listitem").first();
  await expect(restore).toContainText(`From ${storage}:${location}`);
  await expect(restore).toContainText("Succeeded", { timeout: 120_000 });

  // A point in time from a path (no window is known for a path): a date is needed, and one in the future is
  // refused by the server beside the date; nothing is written.
  await expect
    .poll(async () => (await (await page.request.get(`/v1/namespaces/${ns}/database-clusters/${db}`)).json()).status?.status, { timeout: 120_000 })
    .toBe("ready");
  await gotoWithRetry(page, `/databases/${ns}/${db}/restores`);
  await waitForHydration(page);
  const restoresBefore = await page.getByRole("list", { name: "Restores" }).getByRole("listitem").count();
  await page.getByRole("button", { name: "Restore from a path" }).click();
  await dialog.getByLabel("Storage location").selectOption(storage);
  await dialog.getByLabel("Backup path").fill(location);
  await dialog.getByLabel("A chosen moment (UTC)").check();
  await dialog.getByLabel("This database (its current data is replaced)").check();
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog.locator("#path-restore-date-error")).toContainText("choose the point in time");
  await dialog.getByLabel("Moment to restore to (UTC)").fill("2099-01-01T00:00");
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog.locator("#path-restore-date-error")).toContainText("in the future");
  await expect(page.getByRole("list", { name: "Restores" }).getByRole("listitem")).toHaveCount(restoresBefore);
  // The latest moment the logs reach: accepted, listed as such.
  await dialog.getByLabel("The latest moment its logs reach (point-in-time recovery)").check();
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("list", { name: "Restores" }).getByRole("listitem").first()).toContainText("to the latest restorable moment");

  // Into a new database, to a moment: the create form opens with the storage, the path and the moment.
  // Whole seconds, never :00 (a datetime-local input drops zero seconds from its value).
  const moment = new Date(Date.now() - 60_000);
  if (moment.getUTCSeconds() === 0) moment.setUTCSeconds(1);
  const past = moment.toISOString().slice(0, 19);
  await page.getByRole("button", { name: "Restore from a path" }).click();
  await dialog.getByLabel("Storage location").selectOption(storage);
  await dialog.getByLabel("Backup path").fill(location);
  await dialog.getByLabel("A chosen moment (UTC)").check();
  await dialog.getByLabel("Moment to restore to (UTC)").fill(past);
  await dialog.getByLabel("A new database (opens the create form)").check();
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/databases\/new\?.*from_path=.*from_pitr_type=date/);
  await waitForHydration(page);
  const copy = uniqueDbName("pthc");
  await fillDatabaseForm(page, { name: copy, engine: "MySQL" });
  await wizardStep(page, "Backups");
  await expect(page.getByLabel("Create from a backup in a storage location")).toBeChecked();
  await expect(page.getByLabel("Backup's storage location")).toHaveValue(storage);
  await expect(page.getByLabel("Backup path")).toHaveValue(location);
  await expect(page.getByLabel("A chosen moment (UTC)")).toBeChecked();
  await expect(page.getByLabel("Moment to restore to (UTC)")).toHaveValue(past);

  // A path without its storage is refused beside the storage, and the Backups step comes back.
  await page.getByLabel("Backup's storage location").selectOption("");
  await wizardStep(page, "Basic information");
  await submitDatabaseForm(page);
  await expect(page.locator("#from_storage-error")).toContainText("Storage location: choose the storage location the backup is in");
  await expect(page.getByRole("heading", { name: "3. Backups" })).toBeVisible();
  await page.getByLabel("Backup's storage location").selectOption(storage);
  await submitDatabaseForm(page);
  await expectPath(page, "/");
  const stored = await (await page.request.get(`/v1/namespaces/${ns}/database-clusters/${copy}`)).json();
  expect(stored.spec.dataSource).toEqual({
    backupSource: { path: location, backupStorageName: storage },
    pitr: { type: "date", date: `${past}Z` },
  });
  expect(problems.consoleErrors, "console errors").toEqual([]);
});

test("without JavaScript the create form shows its backup fields and posts them", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const ns = e2eNamespace();
  await login(page);
  const storage = uniqueDbName("s3n");
  await addS3Storage(page, storage);

  const nojs = await browser.newContext({ javaScriptEnabled: false });
  await nojs.addCookies(await page.context().cookies());
  const p = await nojs.newPage();
  await p.goto("/databases/new");
  await expect(p.getByRole("heading", { name: "Create database", level: 1 })).toBeVisible();
  // Every step shows, one under the other, with every backup input (not only after ticking a box).
  await expect(p.getByRole("heading", { name: "3. Backups" })).toBeVisible();
  for (const label of ["Frequency", "Time (UTC)", "Day of the week", "Day of the month (1–28)", "Copies to keep", "Storage for the logs", "Backup path"]) {
    await expect(p.getByLabel(label, { exact: true }), label).toBeVisible();
  }
  await expect(p.getByLabel("Time (UTC)")).toHaveValue("00:00");

  const name = uniqueDbName("nojs");
  await p.getByLabel("Name", { exact: true }).fill(name);
  await p.getByLabel("Namespace", { exact: true }).selectOption(ns);
  await p.getByLabel("Back up on a schedule").check();
  await p.getByLabel("Frequency").selectOption("weekly");
  await p.getByLabel("Time (UTC)").fill("02:30");
  await p.getByLabel("Day of the week").selectOption({ index: 1 });
  await p.getByLabel("Copies to keep").fill("3");
  await p.locator("#schedule_storage").selectOption(storage);
  await p.getByLabel("Enable point-in-time recovery").check();
  await p.getByLabel("Storage for the logs").selectOption(storage);
  await p.getByRole("button", { name: "Create database" }).click();
  await expectPath(p, "/");
  await nojs.close();

  const stored = await (await page.request.get(`/v1/namespaces/${ns}/database-clusters/${name}`)).json();
  expect(stored.spec.backup.schedules).toEqual([
    expect.objectContaining({ name: "weekly-backup", schedule: "30 2 * * 1", retentionCopies: 3, backupStorageName: storage, enabled: true }),
  ]);
  expect(stored.spec.backup.pitr).toEqual(expect.objectContaining({ enabled: true, backupStorageName: storage }));
  expect(stored.spec.dataSource ?? null).toBeNull();
});
