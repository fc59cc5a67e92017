/**
 * The development FHIR server ("sandbox"): public surface for the CLI, the demo and tests.
 * Never imported by the service itself.
 */
export { startSandbox, SANDBOX_BASE_PATH, type Sandbox, type SandboxCounters, type SandboxOptions } from './server.ts';
export { runSandboxCli, type SandboxCliOptions } from './cli.ts';
export { loadBundles, shiftBundleDates, latestObservationTime, type LoadOptions, type LoadResult } from './load.ts';
export { startReceiver, type Receiver, type ReceivedRequest, type ReceiverReply } from './receiver.ts';
export { HAPI_RETRY_POLICY, type DeliveryCounters, type RetryPolicy } from './delivery.ts';
export type { SandboxFaults } from './faults.ts';
export type { ResourceChange } from './repository.ts';
