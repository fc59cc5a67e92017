/**
 * The sandbox's CapabilityStatement (`GET [base]/metadata`): what it really supports, so a
 * client that reads capabilities (e.g. `fhir-risk subscribe`) sees an honest R4 server that
 * does rest-hook Subscriptions, classic and Backport.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';

const RESOURCE_TYPES = [
  'Patient',
  'Observation',
  'Condition',
  'Encounter',
  'MedicationRequest',
  'MedicationStatement',
  'Procedure',
  'DiagnosticReport',
  'AllergyIntolerance',
  'RiskAssessment',
  'Subscription',
  'OperationOutcome',
  'Bundle',
] as const;

const INTERACTIONS: CapabilityStatementRestResource['interaction'] = [
  { code: 'read' },
  { code: 'vread' },
  { code: 'update' },
  { code: 'patch' },
  { code: 'delete' },
  { code: 'history-instance' },
  { code: 'create' },
  { code: 'search-type' },
];

export function capabilityStatement(baseUrl: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2025-01-01',
    publisher: 'fhir-risk',
    kind: 'instance',
    instantiates: ['http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/backport-subscription-server-r4'],
    software: { name: 'fhir-risk sandbox (Medplum MemoryRepository)' },
    implementation: { description: 'fhir-risk development FHIR server (in memory)', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource: RESOURCE_TYPES.map((type) => ({
          type,
          interaction: INTERACTIONS,
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: true,
          conditionalDelete: 'single',
          ...(type === 'Subscription'
            ? {
                operation: [
                  {
                    name: 'status',
                    definition: 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
                  },
                ],
              }
            : {}),
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
