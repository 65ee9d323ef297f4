import { expect, test, type Page } from "@playwright/test";
import {
  collectProblems,
  databaseRow,
  e2eNamespace,
  expectNoProblems,
  expectPath,
  gotoWithRetry,
  login,
  uniqueDbName,
  waitForHydration,
  wizardStep,
} from "./helpers";

// The Import flow (contract §4): "Import" on the databases page opens the create wizard with its Import
// part; the database is created, becomes ready, imports (the sandbox's simulator plays the import Job: a
// file whose name starts with "fail" cannot be read) and shows the outcome in words.

async function importDatabase(page: Page, name: string, path: string): Promise<void> {
  await gotoWithRetry(page, "/");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Import", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Import database", level: 1 })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Namespace", { exact: true }).selectOption(e2eNamespace());
  await page.getByLabel("Engine", { exact: true }).selectOption({ label: "MySQL" });
  const version = page.getByLabel("Version", { exact: true });
  const first = version.getByRole("option").first();
  await expect(first).not.toHaveText(/^1[3-7]\./);
  await version.selectOption({ label: (await first.textContent())!.trim() });

  // The Import part: the importers that support MySQL, the S3 source and the file.
  await expect(page.getByRole("heading", { name: "Import", exact: true })).toBeVisible();
  const importer = page.getByLabel("Data importer");
  await expect(importer.getByRole("option", { name: "MySQL (Percona XtraDB Cluster) dump" })).toHaveCount(1);
  await expect(importer.getByRole("option", { name: "MongoDB dump" })).toHaveCount(0);
  await importer.selectOption({ label: "MySQL (Percona XtraDB Cluster) dump" });
  await page.getByLabel("Bucket").fill("dumps");
  await page.getByLabel("Region").fill("us-east-1");
  await page.getByLabel("Endpoint URL").fill("https://s3.example.com");
  await page.getByLabel("File path").fill(path);
  await page.getByLabel("Access key").fill("AKIDEXAMPLE");
  await page.getByLabel("Secret key").fill("wJalrXUtnFEMI");

  await wizardStep(page, "Resources");
  await page.getByLabel("Nodes", { exact: true }).selectOption("1");
  await page.getByRole("button", { name: "Create database" }).click();
  await expectPath(page, "/");
}

test("import a MySQL database: it becomes ready, imports, and is ready again", async ({ page }, testInfo) => {
  test.setTimeout(150_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("imp");
  await login(page);
  await importDatabase(page, name, "/dumps/shop.sql");
  const row = databaseRow(page, name);
  await expect(row).toBeVisible();
  await expect(row.getByText("Importing")).toBeVisible({ timeout: 90_000 });
  await page.screenshot({ path: testInfo.outputPath("import-importing.png"), fullPage: true });
  await expect(row.getByText("Ready")).toBeVisible({ timeout: 60_000 });

  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${name}/overview`);
  await expect(page.getByRole("heading", { name: "Status" })).toBeVisible();
  await expect(page.getByText("ImportFailed")).toHaveCount(0);
  expectNoProblems(problems);
});

test("an import that fails shows why on the database page", async ({ page }, testInfo) => {
  test.setTimeout(150_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("impf");
  await login(page);

  await importDatabase(page, name, "/dumps/fail-missing.sql");
  const row = databaseRow(page, name);
  await expect(row.getByText("Error")).toBeVisible({ timeout: 90_000 });

  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${name}/overview`);
  await expect(page.getByText(/data import failed: simulated import failure: cannot read \/dumps\/fail-missing\.sql/).first()).toBeVisible();
  await expect(page.getByText("ImportFailed").first()).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("import-failed.png"), fullPage: true });
  expectNoProblems(problems);
});
