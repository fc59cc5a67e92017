/**
 * Checks across rendered Kubernetes manifests that schema validation cannot make: references
 * between objects (Service → pods, HPA → Deployment, ServiceMonitor → Service, …), the pod
 * security baseline the chart promises, secrets kept out of ConfigMaps, environment variables
 * the service knows (src/config.ts), probes that never restart pods over a Redis outage, the
 * smart-backend key mount, and Ingress routes the EHR needs.
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
export const SECRET_ENV_NAMES = ['NOTIFY_SECRET', 'FHIR_BEARER_TOKEN', 'FHIR_CLIENT_SECRET', 'FHIR_PRIVATE_KEY', 'REDIS_URL'] as const;

/** Settings the service parses as whole numbers: `toString` of a YAML float renders 3.6e+06, which it refuses. */
const NUMERIC_ENV = /^(PORT|WORKER_CONCURRENCY|JOB_ATTEMPTS|[A-Z_]+_MS)$/;

/** Paths the EHR must reach through an Ingress: notifications always, the JWK Set when fhir-risk signs with a key. */
const NOTIFY_PATH = '/notify';
const JWKS_PATH = '/.well-known/jwks.json';

/**
 * Environment variable names the service reads: the keys of the `z.object` schema in
 * src/config.ts and the `intFromEnv('…')` names of src/pipeline/jobs.ts (given as source text).
 */
export function envNamesFromSource(configSource: string, jobsSource = ''): Set<string> {
  const names = new Set<string>();
  const start = configSource.indexOf('z.object({');
  const end = configSource.indexOf('\n});', start);
  const schema = start >= 0 && end > start ? configSource.slice(start, end) : '';
  for (const m of schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)) names.add(m[1]!);
  for (const m of jobsSource.matchAll(/intFromEnv\('([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  return names;
}

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

function configMapData(docs: readonly Manifest[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const m of docs) if (m.kind === 'ConfigMap' && isObj(m.data)) Object.assign(data, m.data);
  return data;
}

/**
 * Every variable the chart sets (ConfigMap and Secret keys, container `env`) is one the service reads, or
 * Node's own (`NODE_*`); whole-number settings are plain digits.
 */
export function checkEnvironment(docs: readonly Manifest[], known: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  const check = (m: Manifest, name: string, value: unknown) => {
    if (!known.has(name) && !name.startsWith('NODE_')) problems.push({ document: describe(m), message: `${name} is not an environment variable of the service (src/config.ts)` });
    if (NUMERIC_ENV.test(name) && typeof value === 'string' && !/^\d+$/.test(value)) {
      problems.push({ document: describe(m), message: `${name}=${value} is not a whole number in plain digits` });
    }
  };
  for (const m of docs.filter((d) => d.kind === 'ConfigMap' || d.kind === 'Secret')) {
    // Secret values are base64: only their names are checked.
    for (const [name, value] of Object.entries(isObj(m.data) ? m.data : {})) check(m, name, m.kind === 'ConfigMap' ? value : undefined);
  }
  for (const w of workloads(docs)) {
    for (const c of arr(w.pod.containers)) for (const e of arr(get(c, 'env'))) check(w.manifest, String(get(e, 'name')), get(e, 'value'));
  }
  return problems;
}

/**
 * Probes: liveness and startup never ask /readyz (it checks Redis: an outage would restart every
 * pod), every HTTP probe targets a declared container port, and PORT is the port declared as `http`.
 */
export function checkProbes(docs: readonly Manifest[]): Problem[] {
  const problems: Problem[] = [];
  for (const w of workloads(docs)) {
    for (const c of arr(w.pod.containers)) {
      const say = (message: string) => problems.push({ document: describe(w.manifest), message: `container ${String(get(c, 'name'))}: ${message}` });
      const ports = arr(get(c, 'ports'));
      for (const kind of ['livenessProbe', 'startupProbe', 'readinessProbe']) {
        const http = get(c, kind, 'httpGet');
        if (!isObj(http)) continue;
        if (kind !== 'readinessProbe' && http.path === '/readyz') say(`${kind} asks /readyz: a Redis outage would restart the pod`);
        if (!ports.some((p) => get(p, 'name') === http.port || get(p, 'containerPort') === http.port)) say(`${kind} port ${String(http.port)} is not a container port`);
      }
      const httpPort = ports.find((p) => get(p, 'name') === 'http');
      const portEnv = arr(get(c, 'env')).find((e) => get(e, 'name') === 'PORT');
      if (httpPort && String(get(portEnv, 'value')) !== String(get(httpPort, 'containerPort'))) {
        say(`PORT (${String(get(portEnv, 'value'))}) is not the http containerPort ${String(get(httpPort, 'containerPort'))}`);
      }
    }
  }
  return problems;
}

/** FHIR_PRIVATE_KEY_FILE names a file every container mounts read-only from a Secret. */
export function checkPrivateKeyMount(docs: readonly Manifest[]): Problem[] {
  const file = configMapData(docs).FHIR_PRIVATE_KEY_FILE;
  if (typeof file !== 'string') return [];
  const slash = file.lastIndexOf('/');
  const [dir, base] = [file.slice(0, slash), file.slice(slash + 1)];
  const problems: Problem[] = [];
  for (const w of workloads(docs)) {
    for (const c of arr(w.pod.containers)) {
      const say = (message: string) => problems.push({ document: describe(w.manifest), message: `container ${String(get(c, 'name'))}: ${message}` });
      const mount = arr(get(c, 'volumeMounts')).find((vm) => get(vm, 'mountPath') === dir);
      if (!mount) {
        say(`nothing mounted at ${dir} (FHIR_PRIVATE_KEY_FILE)`);
        continue;
      }
      if (get(mount, 'readOnly') !== true) say(`the key mount ${dir} is not read-only`);
      const volume = arr(w.pod.volumes).find((v) => get(v, 'name') === get(mount, 'name'));
      const items = arr(get(volume, 'secret', 'items'));
      if (!isObj(get(volume, 'secret'))) say(`the volume at ${dir} is not a Secret`);
      else if (items.length > 0 && !items.some((i) => get(i, 'path') === base)) say(`the Secret volume at ${dir} has no item with path ${base}`);
    }
  }
  return problems;
}

/** True when an Ingress path (Exact, or Prefix by path segments) routes `target`. */
export function routes(path: string, pathType: string, target: string): boolean {
  if (pathType === 'Exact') return path === target;
  const prefix = path.replace(/\/+$/, '');
  return prefix === '' || target === prefix || target.startsWith(`${prefix}/`);
}

/** Every Ingress routes /notify, and /.well-known/jwks.json when FHIR_AUTH=smart-backend (the EHR fetches our key there). */
export function checkIngressRoutes(docs: readonly Manifest[]): Problem[] {
  const required = [NOTIFY_PATH, ...(configMapData(docs).FHIR_AUTH === 'smart-backend' ? [JWKS_PATH] : [])];
  const problems: Problem[] = [];
  for (const ing of docs.filter((m) => m.kind === 'Ingress')) {
    const paths = arr(get(ing.spec, 'rules')).flatMap((rule) => arr(get(rule, 'http', 'paths')));
    for (const target of required) {
      if (!paths.some((p) => routes(String(get(p, 'path')), String(get(p, 'pathType')), target))) {
        problems.push({ document: describe(ing), message: `no path routes ${target}` });
      }
    }
  }
  return problems;
}

/** Every cross-document check; `knownEnv` (from envNamesFromSource) enables the environment check. */
export function checkManifests(docs: readonly Manifest[], knownEnv?: ReadonlySet<string>): Problem[] {
  return [
    ...checkPodSecurity(docs),
    ...checkNoSecretsInConfigMaps(docs),
    ...checkReferences(docs),
    ...checkProbes(docs),
    ...checkPrivateKeyMount(docs),
    ...checkIngressRoutes(docs),
    ...(knownEnv ? checkEnvironment(docs, knownEnv) : []),
  ];
}
