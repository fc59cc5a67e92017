/**
 * Checks across rendered Kubernetes manifests that schema validation cannot make: references
 * between objects (Service → pods, HPA → Deployment, ServiceMonitor → Service, …), the pod
 * security baseline the chart promises, and secrets kept out of ConfigMaps.
 *
 * Pure functions over parsed YAML documents, so they are unit-tested without helm
 * (manifest-checks.test.ts) and run by validate-manifests.ts on `helm template` output.
 */

/** A parsed manifest: only the fields these checks read are typed. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** One problem, naming the document it was found in. */
export interface Problem {
  document: string;
  message: string;
}

/** Environment variables that must never sit in a ConfigMap (src/config.ts). */
export const SECRET_ENV_NAMES = ['NOTIFY_SECRET', 'FHIR_BEARER_TOKEN', 'FHIR_CLIENT_SECRET', 'REDIS_URL'] as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const key of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function labelsOf(v: unknown): Record<string, string> {
  return isObj(v) ? (v as Record<string, string>) : {};
}

/** `Kind/name`, the way the problems name a document. */
export function describe(m: Manifest): string {
  return `${m.kind ?? '?'}/${m.metadata?.name ?? '?'}`;
}

/** True when every key/value of `selector` is among `labels` (an empty selector matches nothing here). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

interface Workload {
  manifest: Manifest;
  name: string;
  podLabels: Record<string, string>;
  pod: Obj;
}

function workloads(docs: readonly Manifest[]): Workload[] {
  return docs
    .filter((m) => m.kind === 'Deployment')
    .map((m) => ({
      manifest: m,
      name: m.metadata?.name ?? '',
      podLabels: labelsOf(get(m.spec, 'template', 'metadata', 'labels')),
      pod: (get(m.spec, 'template', 'spec') as Obj | undefined) ?? {},
    }));
}

/** The security baseline of every container: non-root, read-only root, no privilege escalation, no capabilities, seccomp, a writable /tmp. */
export function checkPodSecurity(docs: readonly Manifest[]): Problem[] {
  const problems: Problem[] = [];
  for (const w of workloads(docs)) {
    const document = describe(w.manifest);
    const podSc = get(w.pod, 'securityContext');
    for (const c of arr(w.pod.containers)) {
      const name = String(get(c, 'name'));
      const sc = get(c, 'securityContext');
      const say = (message: string) => problems.push({ document, message: `container ${name}: ${message}` });
      if (get(sc, 'runAsNonRoot') !== true && get(podSc, 'runAsNonRoot') !== true) say('runAsNonRoot is not true');
      if (get(sc, 'readOnlyRootFilesystem') !== true) say('readOnlyRootFilesystem is not true');
      if (get(sc, 'allowPrivilegeEscalation') !== false) say('allowPrivilegeEscalation is not false');
      if (!arr(get(sc, 'capabilities', 'drop')).includes('ALL')) say('capabilities.drop lacks ALL');
      const seccomp = get(sc, 'seccompProfile', 'type') ?? get(podSc, 'seccompProfile', 'type');
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') say('seccompProfile is not RuntimeDefault');
      if (!arr(get(c, 'volumeMounts')).some((vm) => get(vm, 'mountPath') === '/tmp')) {
        say('no volume at /tmp (tsx writes its cache there; the root filesystem is read-only)');
      }
      if (get(c, 'resources', 'requests', 'cpu') === undefined) say('no CPU request (CPU autoscaling needs one)');
    }
  }
  return problems;
}

/** Secret settings never in a ConfigMap. */
export function checkNoSecretsInConfigMaps(docs: readonly Manifest[]): Problem[] {
  return docs
    .filter((m) => m.kind === 'ConfigMap')
    .flatMap((m) =>
      SECRET_ENV_NAMES.filter((name) => isObj(m.data) && name in m.data).map((name) => ({
        document: describe(m),
        message: `${name} is a secret setting but sits in a ConfigMap`,
      })),
    );
}

/** References between rendered objects resolve. */
export function checkReferences(docs: readonly Manifest[]): Problem[] {
  const problems: Problem[] = [];
  const ws = workloads(docs);
  const deploymentNames = new Set(ws.map((w) => w.name));
  const byKind = (kind: string) => docs.filter((m) => m.kind === kind);
  const names = (kind: string) => new Set(byKind(kind).map((m) => m.metadata?.name));
  const configMaps = names('ConfigMap');
  const say = (m: Manifest, message: string) => problems.push({ document: describe(m), message });

  for (const w of ws) {
    if (!selects(labelsOf(get(w.manifest.spec, 'selector', 'matchLabels')), w.podLabels)) {
      say(w.manifest, 'spec.selector.matchLabels does not match the pod template labels');
    }
    for (const c of arr(w.pod.containers)) {
      for (const from of arr(get(c, 'envFrom'))) {
        const cm = get(from, 'configMapRef', 'name');
        if (typeof cm === 'string' && !configMaps.has(cm)) say(w.manifest, `envFrom configMapRef ${cm} is not rendered`);
      }
    }
  }
  for (const svc of byKind('Service')) {
    const selector = labelsOf(get(svc.spec, 'selector'));
    const targets = ws.filter((w) => selects(selector, w.podLabels));
    if (targets.length === 0) say(svc, 'selector matches no Deployment pods');
    for (const port of arr(get(svc.spec, 'ports'))) {
      const target = get(port, 'targetPort');
      if (typeof target !== 'string') continue;
      const named = targets.some((w) => arr(w.pod.containers).some((c) => arr(get(c, 'ports')).some((p) => get(p, 'name') === target)));
      if (!named) say(svc, `targetPort ${target} is not a named container port of the selected pods`);
    }
  }
  const hpaTargets = new Set<string>();
  for (const hpa of byKind('HorizontalPodAutoscaler')) {
    const target = String(get(hpa.spec, 'scaleTargetRef', 'name'));
    hpaTargets.add(target);
    if (!deploymentNames.has(target)) say(hpa, `scaleTargetRef ${target} is not a rendered Deployment`);
  }
  const triggerAuths = names('TriggerAuthentication');
  for (const so of byKind('ScaledObject')) {
    const target = String(get(so.spec, 'scaleTargetRef', 'name'));
    if (!deploymentNames.has(target)) say(so, `scaleTargetRef ${target} is not a rendered Deployment`);
    if (hpaTargets.has(target)) say(so, `${target} is also scaled by a HorizontalPodAutoscaler (KEDA creates its own)`);
    if (Number(get(so.spec, 'minReplicaCount') ?? 0) < 1) say(so, 'minReplicaCount below 1: nothing would promote delayed jobs');
    for (const trigger of arr(get(so.spec, 'triggers'))) {
      const auth = get(trigger, 'authenticationRef', 'name');
      if (typeof auth === 'string' && !triggerAuths.has(auth)) say(so, `authenticationRef ${auth} is not rendered`);
      const list = get(trigger, 'metadata', 'listName');
      if (typeof list === 'string' && !/:(events|scores):wait$/.test(list)) say(so, `listName ${list} is not a BullMQ wait list`);
    }
  }
  for (const pdb of byKind('PodDisruptionBudget')) {
    const selector = labelsOf(get(pdb.spec, 'selector', 'matchLabels'));
    if (!ws.some((w) => selects(selector, w.podLabels))) say(pdb, 'selector matches no Deployment pods');
  }
  for (const np of byKind('NetworkPolicy')) {
    const selector = labelsOf(get(np.spec, 'podSelector', 'matchLabels'));
    if (!ws.some((w) => selects(selector, w.podLabels))) say(np, 'podSelector matches no Deployment pods');
  }
  const services = byKind('Service');
  for (const ing of byKind('Ingress')) {
    for (const rule of arr(get(ing.spec, 'rules'))) {
      for (const path of arr(get(rule, 'http', 'paths'))) {
        const name = get(path, 'backend', 'service', 'name');
        const port = get(path, 'backend', 'service', 'port', 'name') ?? get(path, 'backend', 'service', 'port', 'number');
        const svc = services.find((s) => s.metadata?.name === name);
        if (!svc) say(ing, `backend service ${String(name)} is not rendered`);
        else if (!arr(get(svc.spec, 'ports')).some((p) => get(p, 'name') === port || get(p, 'port') === port)) {
          say(ing, `backend port ${String(port)} is not a port of Service ${String(name)}`);
        }
      }
    }
  }
  for (const sm of byKind('ServiceMonitor')) {
    const selector = labelsOf(get(sm.spec, 'selector', 'matchLabels'));
    const matched = services.filter((s) => selects(selector, labelsOf(s.metadata?.labels)));
    if (matched.length === 0) say(sm, 'selector matches no Service labels');
    for (const ep of arr(get(sm.spec, 'endpoints'))) {
      const port = get(ep, 'port');
      if (!matched.some((s) => arr(get(s.spec, 'ports')).some((p) => get(p, 'name') === port))) {
        say(sm, `endpoint port ${String(port)} is not a named port of the selected Service`);
      }
    }
  }
  return problems;
}

/** Every cross-document check. */
export function checkManifests(docs: readonly Manifest[]): Problem[] {
  return [...checkPodSecurity(docs), ...checkNoSecretsInConfigMaps(docs), ...checkReferences(docs)];
}
