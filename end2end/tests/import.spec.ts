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

// The Import flow (contract §4): "Import" on the databases page opens the create wizard with its own Import
// step (the importers of the chosen engine, what each requires, where the data is); the database is
// created with `spec.dataSource.dataImport` as a REST client writes it, becomes ready, gets its
// DataImportJob, imports (the chart's importer, run by the sandbox's simulator, restores through the simulated
// operator: a backup whose name starts with "fail" cannot be read) and shows the outcome in words.

async function importDatabase(page: Page, name: string, path: string, rootPassword?: string): Promise<void> {
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

  // The Import step, second in the list: the importers that support MySQL, what the chosen one requires of
  // the database, the S3 source and the file.
  const steps = page.getByRole("navigation", { name: "Create database steps" });
  await expect(steps.getByRole("link")).toHaveText([
    "1. Basic information",
    "2. Import",
    "3. Resources",
    "4. Backups",
    "5. Advanced configuration",
    "6. Monitoring",
  ]);
  await expect(page.getByRole("heading", { name: "2. Import" })).toBeHidden();
  await page.getByRole("button", { name: "Next: Import" }).click();
  await expect(page.getByRole("heading", { name: "2. Import" })).toBeVisible();
  await expect(page.getByLabel("Name", { exact: true })).toBeHidden();
  const importer = page.getByLabel("Data importer");
  await expect(importer.getByRole("option", { name: "MySQL (Percona XtraDB Cluster) physical backup" })).toHaveCount(1);
  await expect(importer.getByRole("option", { name: "MongoDB physical backup" })).toHaveCount(0);
  await importer.selectOption({ label: "MySQL (Percona XtraDB Cluster) physical backup" });
  const details = page.getByRole("region", { name: "Importer MySQL (Percona XtraDB Cluster) physical backup" });
  await expect(details).toContainText("Imports a physical backup of Percona XtraDB Cluster");
  await expect(details.getByRole("list", { name: "Required fields" })).toHaveText(/\.spec\.engine\.userSecretsName — Cairn fills it/);
  await page.getByLabel("Bucket").fill("dumps");
  await page.getByLabel("Region").fill("us-east-1");
  await page.getByLabel("Endpoint URL").fill("https://s3.example.com");
  await page.getByLabel("File path").fill(path);
  await page.getByLabel("Access key").fill("AKIDEXAMPLE");
  await page.getByLabel("Secret key").fill("wJalrXUtnFEMI");
  // TLS verified unless unticked; path-style URLs (MinIO and the like) ticked here and stored.
  await expect(page.getByLabel("Verify TLS certificate")).toBeChecked();
  await page.getByLabel("Force path-style URLs").check();
  // The source database's administrator: MySQL has no user field, only root's password.
  await expect(page.getByLabel("Administrator user")).toHaveCount(0);
  if (rootPassword) await page.getByLabel("Administrator password").fill(rootPassword);
  await page.screenshot({ path: test.info().outputPath("import-step.png"), fullPage: true });

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
  await importDatabase(page, name, "/dumps/shop.sql", "S0urce-root-pw");
  const row = databaseRow(page, name);
  await expect(row).toBeVisible();
  await expect(row.getByText("Importing")).toBeVisible({ timeout: 90_000 });
  await page.screenshot({ path: testInfo.outputPath("import-importing.png"), fullPage: true });
  await expect(row.getByText("Ready")).toBeVisible({ timeout: 60_000 });
  // What was written is what a REST client writes, and the controller created the import job from it.
  const stored = await (await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}`)).json();
  expect(stored.spec.dataSource.dataImport).toEqual(
    expect.objectContaining({ dataImporterName: "everest-percona-pxc-operator", source: expect.objectContaining({ path: "/dumps/shop.sql" }) }),
  );
  expect(stored.spec.dataSource.dataImport.source.s3).toEqual(expect.objectContaining({ verifyTLS: true, forcePathStyle: true }));
  // The source's root password became the new database's (its users Secret was written before it).
  expect(stored.spec.engine.userSecretsName).toBe(`everest-secrets-${name}`);
  const credentials = await (await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}/credentials`)).json();
  expect([credentials.username, credentials.password]).toEqual(["root", "S0urce-root-pw"]);
  const jobs = await (await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}/data-import-jobs`)).json();
  expect(jobs.items.map((j: { spec: { dataImporterName: string; targetClusterName: string } }) => [j.spec.targetClusterName, j.spec.dataImporterName])).toEqual([
    [name, "everest-percona-pxc-operator"],
  ]);

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
  await expect(page.getByText(/data import failed: .*simulated restore failure: cannot read s3:\/\/dumps\/dumps\/fail-missing\.sql/).first()).toBeVisible();
  await expect(page.getByText("ImportFailed").first()).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("import-failed.png"), fullPage: true });
  expectNoProblems(problems);
});
