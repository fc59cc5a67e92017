import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkEnvironment,
  checkIngressRoutes,
  checkManifests,
  checkNoSecretsInConfigMaps,
  checkPodSecurity,
  checkPrivateKeyMount,
  checkProbes,
  checkReferences,
  envNamesFromSource,
  routes,
  selects,
  type Manifest,
} from './manifest-checks.ts';

const labels = { 'app.kubernetes.io/name': 'fhir-risk', 'app.kubernetes.io/component': 'worker' };

function deployment(overrides: { container?: Record<string, unknown>; name?: string; volumes?: unknown[] } = {}): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: overrides.name ?? 'fhir-risk-worker' },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          volumes: overrides.volumes ?? [],
          containers: [
            {
              name: 'worker',
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [{ name: 'PORT', value: '8080' }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
              resources: { requests: { cpu: '250m' } },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              ...overrides.container,
            },
          ],
        },
      },
    },
  };
}

describe('manifest checks', () => {
  it('accepts a hardened Deployment with its Service, HPA and PDB', () => {
    const docs: Manifest[] = [
      deployment(),
      { kind: 'Service', metadata: { name: 's' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
      { kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' }, spec: { scaleTargetRef: { name: 'fhir-risk-worker' } } },
      { kind: 'PodDisruptionBudget', metadata: { name: 'p' }, spec: { selector: { matchLabels: labels } } },
    ];
    assert.deepEqual(checkManifests(docs), []);
  });

  it('names each missing piece of the security baseline', () => {
    const problems = checkPodSecurity([
      deployment({ container: { securityContext: { readOnlyRootFilesystem: false }, volumeMounts: [], resources: {} } }),
    ]).map((p) => p.message);
    assert.deepEqual(problems, [
      'container worker: readOnlyRootFilesystem is not true',
      'container worker: allowPrivilegeEscalation is not false',
      'container worker: capabilities.drop lacks ALL',
      'container worker: no volume at /tmp (tsx writes its cache there; the root filesystem is read-only)',
      'container worker: no CPU request (CPU autoscaling needs one)',
    ]);
  });

  it('finds secret settings in a ConfigMap', () => {
    const problems = checkNoSecretsInConfigMaps([{ kind: 'ConfigMap', metadata: { name: 'c' }, data: { REDIS_URL: 'redis://:pw@r', LOG_LEVEL: 'info' } }]);
    assert.deepEqual(problems, [{ document: 'ConfigMap/c', message: 'REDIS_URL is a secret setting but sits in a ConfigMap' }]);
  });

  it('reports dangling references and an HPA fighting KEDA', () => {
    const problems = checkReferences([
      deployment(),
      { kind: 'Service', metadata: { name: 's' }, spec: { selector: { 'app.kubernetes.io/component': 'api' }, ports: [] } },
      { kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' }, spec: { scaleTargetRef: { name: 'fhir-risk-worker' } } },
      {
        kind: 'ScaledObject',
        metadata: { name: 'k' },
        spec: {
          scaleTargetRef: { name: 'fhir-risk-worker' },
          minReplicaCount: 0,
          triggers: [{ type: 'redis', metadata: { listName: 'fhir-risk:scores:delayed' }, authenticationRef: { name: 'missing' } }],
        },
      },
    ]).map((p) => `${p.document}: ${p.message}`);
    assert.deepEqual(problems, [
      'Service/s: selector matches no Deployment pods',
      'ScaledObject/k: fhir-risk-worker is also scaled by a HorizontalPodAutoscaler (KEDA creates its own)',
      'ScaledObject/k: minReplicaCount below 1: nothing would promote delayed jobs',
      'ScaledObject/k: authenticationRef missing is not rendered',
      'ScaledObject/k: listName fhir-risk:scores:delayed is not a BullMQ wait list',
    ]);
  });

  it('an empty selector selects nothing', () => {
    assert.equal(selects({}, labels), false);
    assert.equal(selects({ 'app.kubernetes.io/component': 'worker' }, labels), true);
  });

  it('reads the variable names of the config schema and of jobs.ts', () => {
    const config = "const x = { NOT_THIS: 1 };\nconst envSchema = z.object({\n  FHIR_AUTH: z.enum(['none']),\n  /** doc */\n  PORT: int(0, 65535),\n    NESTED: 1,\n});\nconst AFTER: 1;";
    const jobs = "export const A = intFromEnv('JOB_ATTEMPTS', 12, 1, 100);";
    assert.deepEqual([...envNamesFromSource(config, jobs)].sort(), ['FHIR_AUTH', 'JOB_ATTEMPTS', 'PORT']);
  });

  it('flags unknown variables and numbers rendered in exponent form', () => {
    const known = new Set(['PORT', 'JOB_BACKOFF_MS', 'LOG_LEVEL', 'REDIS_URL']);
    const problems = checkEnvironment(
      [
        { kind: 'ConfigMap', metadata: { name: 'c' }, data: { JOB_BACKOFF_MS: '3.6e+06', LOG_LEVEL: 'info', NODE_EXTRA_CA_CERTS: '/ca', FHIR_SIGNING_ALGORITHM: 'ES384' } },
        { kind: 'Secret', metadata: { name: 's' }, data: { REDIS_URL: 'cmVkaXM6Ly8=', REDIS_PASSWORD: 'eA==' } },
        deployment({ container: { env: [{ name: 'PORT', value: '8080' }] } }),
      ],
      known,
    ).map((p) => `${p.document}: ${p.message}`);
    assert.deepEqual(problems, [
      'ConfigMap/c: JOB_BACKOFF_MS=3.6e+06 is not a whole number in plain digits',
      'ConfigMap/c: FHIR_SIGNING_ALGORITHM is not an environment variable of the service (src/config.ts)',
      'Secret/s: REDIS_PASSWORD is not an environment variable of the service (src/config.ts)',
    ]);
  });

  it('refuses liveness on /readyz, probes on undeclared ports and a PORT that is not the http port', () => {
    const problems = checkProbes([
      deployment({
        container: {
          env: [{ name: 'PORT', value: '9090' }],
          livenessProbe: { httpGet: { path: '/readyz', port: 'http' } },
          readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
        },
      }),
    ]).map((p) => p.message);
    assert.deepEqual(problems, [
      'container worker: livenessProbe asks /readyz: a Redis outage would restart the pod',
      'container worker: readinessProbe port metrics is not a container port',
      'container worker: PORT (9090) is not the http containerPort 8080',
    ]);
    assert.deepEqual(checkProbes([deployment()]), []);
  });

  it('requires the smart-backend key file to be mounted read-only from a Secret', () => {
    const config: Manifest = { kind: 'ConfigMap', metadata: { name: 'c' }, data: { FHIR_PRIVATE_KEY_FILE: '/keys/key.pem' } };
    const mounted = (readOnly: boolean, path: string) =>
      deployment({
        container: { volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'key', mountPath: '/keys', readOnly }] },
        volumes: [{ name: 'key', secret: { secretName: 'k', items: [{ key: 'pem', path }] } }],
      });
    assert.deepEqual(checkPrivateKeyMount([config, mounted(true, 'key.pem')]), []);
    assert.deepEqual(
      checkPrivateKeyMount([config, mounted(false, 'other.pem')]).map((p) => p.message),
      ['container worker: the key mount /keys is not read-only', 'container worker: the Secret volume at /keys has no item with path key.pem'],
    );
    assert.deepEqual(checkPrivateKeyMount([config, deployment()]).map((p) => p.message), ['container worker: nothing mounted at /keys (FHIR_PRIVATE_KEY_FILE)']);
    assert.deepEqual(checkPrivateKeyMount([deployment()]), [], 'no key file configured: nothing to check');
  });

  it('matches Ingress paths the way Kubernetes does', () => {
    assert.equal(routes('/', 'Prefix', '/.well-known/jwks.json'), true);
    assert.equal(routes('/.well-known', 'Prefix', '/.well-known/jwks.json'), true);
    assert.equal(routes('/.well', 'Prefix', '/.well-known/jwks.json'), false, 'Prefix matches whole path segments');
    assert.equal(routes('/.well-known/jwks.json', 'Exact', '/.well-known/jwks.json'), true);
    assert.equal(routes('/.well-known/', 'Exact', '/.well-known/jwks.json'), false);
  });

  it('requires Ingress routes for /notify, and for the JWK Set with smart-backend', () => {
    const ingress = (...paths: string[]): Manifest => ({
      kind: 'Ingress',
      metadata: { name: 'i' },
      spec: { rules: [{ http: { paths: paths.map((path) => ({ path, pathType: 'Prefix' })) } }] },
    });
    const smart: Manifest = { kind: 'ConfigMap', metadata: { name: 'c' }, data: { FHIR_AUTH: 'smart-backend' } };
    assert.deepEqual(checkIngressRoutes([ingress('/notify', '/fhir')]), []);
    assert.deepEqual(checkIngressRoutes([smart, ingress('/notify', '/fhir')]).map((p) => p.message), ['no path routes /.well-known/jwks.json']);
    assert.deepEqual(checkIngressRoutes([smart, ingress('/')]), []);
    assert.deepEqual(checkIngressRoutes([ingress('/fhir')]).map((p) => p.message), ['no path routes /notify']);
  });
});
