import { expect, test, type Page } from "@playwright/test";
import {
  collectProblems,
  databaseRow,
  e2eNamespace,
  expectNoProblems,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
  wizardStep,
} from "./helpers";

/** The DatabaseCluster as the REST API returns it (the session cookie authenticates the request). */
async function storedSpec(page: Page, name: string): Promise<any> {
  const response = await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}`);
  expect(response.status()).toBe(200);
  return (await response.json()).spec;
}

async function openForm(page: Page): Promise<void> {
  await login(page);
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
}

test("the proxy list follows the engine", async ({ page }) => {
  await openForm(page);
  // Engine (Basic information) and proxy (Resources) are on two steps of the wizard.
  const proxy = page.getByLabel("Proxy", { exact: true });
  const engine = async (label: string) => {
    await wizardStep(page, "Basic information");
    await page.getByLabel("Engine", { exact: true }).selectOption({ label });
    await wizardStep(page, "Resources");
  };
  await engine("PostgreSQL");
  await expect(proxy.getByRole("option")).toHaveText(["PgBouncer"]);
  await engine("MySQL");
  await expect(proxy.getByRole("option")).toHaveText(["HAProxy", "ProxySQL"]);
  // MongoDB has a proxy (mongos) only when sharded.
  await engine("MongoDB");
  await expect(proxy).toHaveCount(0);
  await wizardStep(page, "Basic information");
  await page.getByLabel("Sharded cluster").check();
  await expect(page.getByLabel("Shards", { exact: true })).toHaveValue("2");
  await expect(page.getByLabel("Config servers", { exact: true })).toHaveValue("3");
  await wizardStep(page, "Resources");
  await expect(proxy.getByRole("option")).toHaveText(["mongos"]);
  // Source ranges (and the load-balancer configuration) belong to a load balancer only.
  await wizardStep(page, "Advanced configuration");
  const ranges = page.getByLabel("Allowed source ranges");
  await expect(ranges).toHaveCount(0);
  await page.getByLabel("Exposure").selectOption("LoadBalancer");
  await expect(ranges).toBeVisible();
  await expect(page.getByLabel("Load balancer configuration")).toBeVisible();
});

test("MySQL behind ProxySQL on a load balancer with source ranges", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("myp");
  await openForm(page);
  await fillDatabaseForm(page, { name, engine: "MySQL", nodes: "3" });
  await page.getByLabel("Proxy", { exact: true }).selectOption({ label: "ProxySQL" });
  await page.getByLabel("Proxy nodes").fill("2");
  await wizardStep(page, "Advanced configuration");
  await page.getByLabel("Exposure").selectOption("LoadBalancer");
  await page.getByLabel("Allowed source ranges").fill("203.0.113.0/24, 198.51.100.7");
  await page.screenshot({ path: testInfo.outputPath("create-form-proxysql.png"), fullPage: true });
  await submitDatabaseForm(page);

  await expectPath(page, "/");
  await expect(databaseRow(page, name).getByText("Ready")).toBeVisible({ timeout: 60_000 });
  const spec = await storedSpec(page, name);
  expect(spec.engine.replicas).toBe(3);
  expect(spec.proxy.type).toBe("proxysql");
  expect(spec.proxy.replicas).toBe(2);
  expect(spec.proxy.expose).toEqual({ type: "LoadBalancer", ipSourceRanges: ["203.0.113.0/24", "198.51.100.7"] });
  expectNoProblems(problems);
});

test("a sharded MongoDB cluster", async ({ page }) => {
  test.setTimeout(120_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("shard");
  await openForm(page);
  await fillDatabaseForm(page, { name, engine: "MongoDB", nodes: "3" });
  await wizardStep(page, "Basic information");
  await page.getByLabel("Sharded cluster").check();
  await page.getByLabel("Shards", { exact: true }).fill("3");
  await submitDatabaseForm(page);

  await expectPath(page, "/");
  await expect(databaseRow(page, name).getByText("Ready")).toBeVisible({ timeout: 60_000 });
  const spec = await storedSpec(page, name);
  expect(spec.sharding).toEqual({ enabled: true, shards: 3, configServer: { replicas: 3 } });
  expect(spec.proxy.type).toBe("mongos");
  expectNoProblems(problems);
});

test("a malformed source range is refused beside its field and nothing is created", async ({ page }) => {
  const name = uniqueDbName("badcidr");
  await openForm(page);
  await fillDatabaseForm(page, { name, engine: "MySQL", nodes: "1" });
  await wizardStep(page, "Advanced configuration");
  await page.getByLabel("Exposure").selectOption("LoadBalancer");
  await page.getByLabel("Allowed source ranges").fill("10.0.0.0/99");
  await submitDatabaseForm(page);

  await expect(page.getByRole("alert").filter({ hasText: /Allowed source ranges/ })).toContainText("10.0.0.0/99");
  await expectPath(page, "/databases/new");
  const response = await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}`);
  expect(response.status()).toBe(404);
});
