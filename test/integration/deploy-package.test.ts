// The deploy/ kustomize package: it renders with kubectl, its files are generated from the one DGD
// template, its alert rules and dashboard queries parse with promtool, every metric they use is on
// a running daemon's /metrics, and its Role grants exactly the requests the planner makes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPoolService, fromV1beta1, gpusPerReplica, modelNameOf, type Dgd, type DgdV1beta1 } from '../../src/actuate/dgd.js';
import { staleDeployFiles } from '../../src/docs/deploy.js';
import { loadProfileDir } from '../../src/profile-data/index.js';
import { loadConfig } from '../../src/config/index.js';
import { FakePrometheus, BUSY_TRAFFIC } from '../helpers/fakePrometheus.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { buildDaemon, startFakeKube, type Harness } from '../helpers/daemonHarness.js';
import { rulesFromRoleFile, parseResourcePath, verbOf } from '../helpers/fakeKubeApi.js';
import { waitFor } from '../helpers/procs.js';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };

function kustomize(dir: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return YAML.parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}

const DASHBOARD = 'deploy/base/grafana/sla-planner-dashboard.json';
const RULES = 'deploy/base/prometheusrule.yaml';

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
  const queries = dash.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string' && q.startsWith('label_values('));
  return [...dash.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...queries.map((q) => q.replace(/^label_values\((.*), \w+\)$/, '$1'))];
}

function ruleExprs(): string[] {
  const rule = YAML.parse(readFileSync(RULES, 'utf8')) as { spec: { groups: { rules: { expr: string }[] }[] } };
  return rule.spec.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

/** Metric names our own families use in a PromQL expression (histogram series back to their family). */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(planner:[a-z_]+|dynamo_planner_[a-z_]+|sla_planner_[a-z_]+)/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}

describe('deploy/ kustomize package', () => {
  it('its generated files are up to date with the DGD template and the example config', () => {
    expect(staleDeployFiles(), "stale: run 'node dist/src/docs/deploy.js --write'").toEqual([]);
  });

  it('kubectl kustomize renders each overlay: RBAC, both ConfigMaps, dashboard, PodMonitor, rules and a DGD the planner can read', () => {
    for (const [overlay, version] of [['deploy/overlays/vllm-disagg', 'nvidia.com/v1alpha1'], ['deploy/overlays/vllm-disagg-v1beta1', 'nvidia.com/v1beta1']] as const) {
      const objs = kustomize(overlay);
      expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        'ConfigMap/planner-config', 'ConfigMap/planner-profile-data', 'ConfigMap/sla-planner-dashboard', 'DynamoGraphDeployment/llama-disagg',
        'PodMonitor/sla-planner', 'PrometheusRule/sla-planner', 'Role/sla-planner-llama-disagg', 'RoleBinding/sla-planner-llama-disagg', 'ServiceAccount/planner-serviceaccount',
      ]);
      const cm = (name: string) => objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as unknown as { data: Record<string, string>; metadata: { labels?: Record<string, string> } };
      // The config the planner mounts loads, and so does the profile data (same files as config/).
      const cfgDir = mkdtempSync(join(tmpdir(), 'sla-deploy-'));
      writeFileSync(join(cfgDir, 'planner_config.json'), cm('planner-config').data['planner_config.json']);
      expect(loadConfig(join(cfgDir, 'planner_config.json'), { strict: true, env: {} }).warnings).toEqual([]);
      for (const [k, v] of Object.entries(cm('planner-profile-data').data)) writeFileSync(join(cfgDir, k), v);
      expect(loadProfileDir(cfgDir).prefill.isl.length).toBeGreaterThan(3);
      expect(cm('sla-planner-dashboard').metadata.labels?.grafana_dashboard).toBe('1');
      const raw = objs.find((o) => o.kind === 'DynamoGraphDeployment')!;
      expect(raw.apiVersion).toBe(version);
      const dgd = version === 'nvidia.com/v1beta1' ? fromV1beta1(raw as unknown as DgdV1beta1) : (raw as unknown as Dgd);
      for (const pool of ['prefill', 'decode'] as const) {
        const svc = dgd.spec!.services![findPoolService(dgd, pool, 'vllm')];
        expect(gpusPerReplica(svc)).toBe(1);
        expect(modelNameOf(svc)).toBe('meta-llama/llama-3.1-8b-instruct');
      }
    }
  });

  it('config/deploy/rbac.yaml and the package grant the same rules', () => {
    expect(rulesFromRoleFile('config/deploy/rbac.yaml')).toEqual(rulesFromRoleFile('deploy/base/rbac.yaml'));
  });

  it('promtool accepts the alert rules and every dashboard query', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-rules-'));
    const rule = YAML.parse(readFileSync(RULES, 'utf8')) as { spec: unknown };
    writeFileSync(join(dir, 'alerts.yaml'), YAML.stringify(rule.spec));
    const check = (file: string) => execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(check(join(dir, 'alerts.yaml'))).toMatch(/SUCCESS: 4 rules found/);
    // Dashboard queries as recording rules, with Grafana's variables replaced by what Grafana sends.
    const recording = dashboardExprs().map((expr, i) => ({
      record: `sla_planner:dashboard_query_${i}`,
      expr: expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$pod', '.*'),
    }));
    writeFileSync(join(dir, 'dashboard.yaml'), YAML.stringify({ groups: [{ name: 'dashboard', rules: recording }] }));
    expect(check(join(dir, 'dashboard.yaml'))).toMatch(new RegExp(`SUCCESS: ${recording.length} rules found`));
    // A query with a typo is refused: the check is real.
    writeFileSync(join(dir, 'bad.yaml'), YAML.stringify({ groups: [{ name: 'g', rules: [{ record: 'x:y', expr: 'sum by (le (rate(x[1m]))' }] }] }));
    expect(() => check(join(dir, 'bad.yaml'))).toThrow();
  });

  describe('against a running daemon', () => {
    let prom: FakePrometheus;
    let kube: FakeKube;
    let h: Harness;

    beforeAll(async () => {
      prom = await new FakePrometheus(BUSY_TRAFFIC, { model: 'qwen/qwen3-0.6b', dynamo_namespace: 'test-ns' }).start();
      const k = await startFakeKube();
      kube = k.kube;
      kube.adapters.add('VllmPrefillWorker');
      kube.adapters.add('VllmDecodeWorker');
      // Two ticks in a row cannot write the decode pool: one FailedRescale, then a repeat (a series patch).
      kube.faults.push({ method: 'PATCH', pathIncludes: 'vllmdecodeworker/scale', status: 403, times: 2, message: 'injected: patch forbidden' });
      h = await buildDaemon({
        config: { throughput_adjustment_interval: 1, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 16, metric_reporting_prometheus_port: 0 },
        env: k.env, promUrl: prom.url, reporter: true,
      });
      await h.daemon.start();
      await waitFor(async () => h.daemon.history.filter((r) => (r.actuation as { status?: string } | undefined)?.status === 'applied').length >= 1
        && kube.eventList().some((e) => (e.series?.count ?? 0) >= 2), 90_000, 'a scaling and a repeated failure')
        .catch((err) => { throw new Error(`${err.message}: ${JSON.stringify(h.daemon.history.slice(0, 6).map((r) => [r.decided, r.actuation]))} ${JSON.stringify(kube.eventList().map((e) => [e.reason, e.note, e.series]))}`); });
      await h.daemon.stop(2000);
    }, 120_000);

    afterAll(async () => {
      await prom?.stop();
      await kube?.stop();
    });

    it('every metric the dashboard and the alert rules use is exported', async () => {
      const text = await h.daemon.metrics.registry.metrics();
      const exported = new Set([...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]));
      const used = [...new Set([...dashboardExprs(), ...ruleExprs()].flatMap(metricNames))];
      expect(used.length).toBeGreaterThan(15);
      expect(used.filter((n) => !exported.has(n))).toEqual([]);
    });

    it('the planner made exactly the requests the shipped Role grants, each one allowed', () => {
      const granted = new Set(rulesFromRoleFile('deploy/base/rbac.yaml').flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
      const made = new Set(kube.log.flatMap((r) => {
        const t = parseResourcePath(r.path);
        return t ? [`${t.group}/${t.subresource ? `${t.resource}/${t.subresource}` : t.resource}:${verbOf(r.method, t.collection)}`] : [];
      }));
      expect([...made].sort()).toEqual([...granted].sort());
      expect(kube.log.filter((r) => r.status === 403).every((r) => r.path.includes('vllmdecodeworker/scale'))).toBe(true); // only the injected faults
      const reasons = kube.eventList().map((e) => e.reason);
      expect(reasons).toContain('SuccessfulRescale');
      expect(reasons).toContain('FailedRescale');
      const failed = kube.eventList().find((e) => e.reason === 'FailedRescale')!;
      expect(failed.note).toMatch(/^VllmDecodeWorker 1 -> \d+ failed \(k8s_forbidden\): RBAC: .* may not 'patch' dynamographdeploymentscalingadapters\/scale/);
      expect(failed.series?.count).toBeGreaterThanOrEqual(2);
      expect(JSON.parse(kube.annotations()['sla-planner.io/last-decision'])).toMatchObject({ loop: 'throughput' });
    });
  });
});
