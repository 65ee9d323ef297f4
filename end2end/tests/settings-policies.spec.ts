import { expect, test, type Page } from "@playwright/test";
import { e2eNamespace, gotoWithRetry, login, waitForHydration } from "./helpers";

// The settings area: the managed namespaces with their engines, and the policies — a pod scheduling
// policy created, edited rule by rule (a broken rule refused beside its field), checked over REST and
// deleted; a load-balancer configuration's annotations edited. Screenshots at 390 and 1440 px wide.

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

async function shoot(page: Page, name: string, outputPath: (n: string) => string): Promise<void> {
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    // Nothing wider than the screen: the page never scrolls sideways (tables scroll inside their box, which
    // also holds their visually hidden headers).
    const wide = await page.evaluate((w) => {
      const out: string[] = [];
      for (const el of Array.from(document.body.querySelectorAll("*"))) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1) out.push(`${el.tagName}.${el.className} ${Math.round(r.right)}`);
      }
      return { scroll: document.documentElement.scrollWidth, wide: out.slice(0, 8) };
    }, width);
    expect(wide.scroll, `${name} at ${width} px: ${JSON.stringify(wide.wide)}`).toBeLessThanOrEqual(width);
    await page.screenshot({ path: outputPath(`${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

test("the namespaces page lists each managed namespace with its engines", async ({ page }, testInfo) => {
  await login(page);
  await gotoWithRetry(page, "/settings/namespaces");
  const ns = page.getByRole("region", { name: `Namespace ${e2eNamespace()}`, exact: true });
  await expect(ns).toBeVisible();
  const engines = ns.getByRole("table", { name: `Engines in ${e2eNamespace()}` });
  for (const engine of ["PostgreSQL", "MySQL", "MongoDB"]) {
    await expect(engines.getByRole("row", { name: new RegExp(engine) })).toContainText("installed");
  }
  await expect(engines.getByRole("row", { name: /PostgreSQL/ })).toContainText("percona-postgresql-operator");
  // OpenEverest's URL of one namespace works too.
  await gotoWithRetry(page, `/settings/namespaces/${e2eNamespace()}`);
  await expect(ns).toBeVisible();
  await shoot(page, "settings-namespaces", (n) => testInfo.outputPath(n));
});

test("edit a pod scheduling policy", async ({ page }, testInfo) => {
  const name = unique("e2e-psp");
  await login(page);
  await gotoWithRetry(page, "/settings/policies");
  await waitForHydration(page);
  await shoot(page, "settings-policies", (n) => testInfo.outputPath(n));

  const create = page.getByRole("form", { name: "Create pod scheduling policy" });
  await create.getByLabel("Policy name").fill(name);
  await create.getByLabel("Engine").selectOption({ label: "PostgreSQL" });
  await create.getByRole("button", { name: "Create policy" }).click();
  await expect(page).toHaveURL(new RegExp(`/settings/policies/details/pod-scheduling/${name}$`));
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await expect(page.getByText("No rules")).toBeVisible();

  // A preferred pod anti-affinity on the host name for the engine's pods.
  const add = page.getByRole("form", { name: "Add affinity rule" });
  await add.getByLabel("Component").selectOption({ label: "Engine" });
  await add.getByLabel("Type").selectOption({ label: "Pod anti-affinity" });
  await add.getByLabel("Priority").selectOption({ label: "Preferred" });
  await add.getByLabel("Weight (1–100)").fill("10");
  await add.getByLabel("Topology key").fill("kubernetes.io/hostname");
  await add.getByRole("button", { name: "Add rule" }).click();
  const rules = page.getByRole("table", { name: "Affinity rules" });
  await expect(rules.getByRole("row", { name: /Pod anti-affinity/ })).toContainText("Preferred, weight 10");

  // A node affinity rule without a node label: refused beside the field, nothing added.
  await add.getByLabel("Type").selectOption({ label: "Node affinity" });
  await add.getByLabel("Priority").selectOption({ label: "Required" });
  await add.getByRole("button", { name: "Add rule" }).click();
  await expect(page.locator("#key-error")).toContainText("node label key");
  await expect(rules.getByRole("row")).toHaveCount(2); // header + the one rule
  // A valid one: required node affinity on a zone.
  await add.getByLabel("Label key").fill("topology.kubernetes.io/zone");
  await add.getByLabel("Operator").selectOption("In");
  await add.getByLabel("Values").fill("zone-a, zone-b");
  await add.getByRole("button", { name: "Add rule" }).click();
  await expect(rules.getByRole("row", { name: /Node affinity/ })).toContainText("topology.kubernetes.io/zone In (zone-a, zone-b)");
  await shoot(page, "settings-policy-editor", (n) => testInfo.outputPath(n));

  // Stored as Kubernetes affinity under the engine's section.
  const stored = await (await page.request.get(`/v1/pod-scheduling-policies/${name}`)).json();
  const engine = stored.spec.affinityConfig.postgresql.engine;
  expect(engine.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
    { weight: 10, podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } },
  ]);
  expect(engine.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
    { matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["zone-a", "zone-b"] }] },
  ]);

  // Remove the first rule, then delete the policy.
  await page.getByRole("button", { name: /Remove Engine Pod anti-affinity rule 1/ }).click();
  await expect(rules.getByRole("row")).toHaveCount(2);
  await expect(rules).not.toContainText("Pod anti-affinity");
  await page.getByRole("button", { name: "Delete policy" }).click();
  await expect(page).toHaveURL(/\/settings\/policies$/);
  await expect(page.getByRole("link", { name })).toHaveCount(0);
  expect((await page.request.get(`/v1/pod-scheduling-policies/${name}`)).status()).toBe(404);
});

test("edit a load balancer configuration's annotations", async ({ page }) => {
  const name = unique("e2e-lb");
  await login(page);
  await gotoWithRetry(page, "/settings/policies/details/load-balancer-configuration");
  await waitForHydration(page);
  const create = page.getByRole("form", { name: "Create load balancer configuration" });
  await create.getByLabel("Configuration name").fill(name);
  await create.getByRole("button", { name: "Create configuration" }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();

  const add = page.getByRole("form", { name: "Add annotation" });
  await add.getByLabel("Annotation key").fill("service.beta.kubernetes.io/aws-load-balancer-type");
  await add.getByLabel("Value").fill("nlb");
  await add.getByRole("button", { name: "Save annotation" }).click();
  const table = page.getByRole("table", { name: "Annotations" });
  await expect(table).toContainText("service.beta.kubernetes.io/aws-load-balancer-type");
  // A malformed key is refused beside its field.
  await add.getByLabel("Annotation key").fill("not a key");
  await add.getByLabel("Value").fill("x");
  await add.getByRole("button", { name: "Save annotation" }).click();
  await expect(page.locator("#key-error")).toBeVisible();
  const stored = await (await page.request.get(`/v1/load-balancer-configs/${name}`)).json();
  expect(stored.spec.annotations).toEqual({ "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" });

  await page.getByRole("button", { name: /Remove annotation service\.beta/ }).click();
  await expect(page.getByText("No annotations yet")).toBeVisible();
  await page.getByRole("button", { name: "Delete configuration" }).click();
  await expect(page).toHaveURL(/load-balancer-configuration$/);
  expect((await page.request.get(`/v1/load-balancer-configs/${name}`)).status()).toBe(404);
});
