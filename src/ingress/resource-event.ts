/**
 * `ResourceEvent`: the one internal shape every delivery style is turned into.
 *
 * An adapter (one per delivery style) parses a notification into events; the ingress route hands
 * them to the pipeline, which stores only ids and versions in Redis (never the resource body).
 */
import type { FhirResource } from 'fhir/r4.js';

/** How the notification reached us. Used for metrics and logs, never for behaviour downstream. */
export type DeliveryStyle =
  | 'hapi-rest-hook'
  | 'backport-r4'
  | 'backport-r4b'
  | 'r5'
  | 'medplum'
  | 'azure-event-grid'
  | 'azure-cloudevents'
  | 'gcp-pubsub'
  | 'sweep'
  | 'backfill'
  | 'replay';

/** `changed` when the sender did not say whether it was a create or an update. */
export type ResourceAction = 'create' | 'update' | 'delete' | 'changed';

export interface ResourceEvent {
  /** e.g. `Observation`. */
  readonly resourceType: string;
  /** Logical id on the EHR (`FHIR_BASE_URL`), whatever host the notification named. */
  readonly id: string;
  /** `meta.versionId` when known. May be opaque (Medplum, Google): compare only for equality. */
  readonly versionId?: string;
  /** `meta.lastUpdated` when known: the fallback ordering when versions are absent or opaque. */
  readonly lastUpdated?: string;
  readonly action: ResourceAction;
  /**
   * The resource body when the notification carried it (full-resource content). It stays in the
   * request path: the pipeline derives the patient id and trigger matches from it and drops it.
   */
  readonly resource?: FhirResource;
  readonly style: DeliveryStyle;
  /** The Subscription that sent it, when the notification says (`Subscription/<id>` or a URL). */
  readonly subscription?: string;
  /** Backport `eventNumber` / R5 `eventNumber`: used to detect gaps per subscription. */
  readonly eventNumber?: number;
}

/** The sink ingress writes to: resolves only once every event is stored (in Redis). */
export interface EventSink {
  /** Stores the events; rejects with `QueueUnavailableError` when they could not all be stored. */
  enqueue(events: readonly ResourceEvent[]): Promise<EnqueueResult>;
  /** Asks for a reconciliation sweep (HAPI's empty ping, a detected gap). Must not throw for a busy sweep. */
  requestSweep(reason: string): Promise<void>;
}

export interface EnqueueResult {
  /** Events stored as new jobs. */
  readonly accepted: number;
  /** Events that were already queued or processed (same resource version): a no-op. */
  readonly duplicates: number;
  /** Events about resources no model uses: acknowledged and counted, not queued. */
  readonly ignored: number;
}
