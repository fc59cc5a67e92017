import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkManifests, checkNoSecretsInConfigMaps, checkPodSecurity, checkReferences, selects, type Manifest } from './manifest-checks.ts';

const labels = { 'app.kubernetes.io/name': 'fhir-risk', 'app.kubernetes.io/component': 'worker' };

function deployment(overrides: { container?: Record<string, unknown>; name?: string } = {}): Manifest {
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
          containers: [
            {
              name: 'worker',
              ports: [{ name: 'http', containerPort: 8080 }],
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
});
