/**
 * The CDS Hooks 2.0 response and discovery shapes as zod schemas, so tests (and anyone debugging
 * an EHR integration) can check a document against the spec's rules: required members, the
 * indicator and link-type enums, the summary's "<140 characters", no empty optional strings.
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1);

const coding = z.looseObject({ code: nonEmpty, system: nonEmpty.optional(), display: nonEmpty.optional() });

const link = z.looseObject({
  label: nonEmpty,
  url: z.url(),
  type: z.enum(['absolute', 'smart']),
  appContext: nonEmpty.optional(),
});

const action = z.looseObject({
  type: z.enum(['create', 'update', 'delete']),
  description: nonEmpty,
  resource: z.record(z.string(), z.unknown()).optional(),
  resourceId: nonEmpty.optional(),
});

const suggestion = z.looseObject({
  label: nonEmpty,
  uuid: nonEmpty.optional(),
  isRecommended: z.boolean().optional(),
  actions: z.array(action).min(1).optional(),
});

export const cdsCardSchema = z
  .looseObject({
    uuid: nonEmpty.optional(),
    summary: nonEmpty.max(139, 'summary must be fewer than 140 characters'),
    detail: nonEmpty.optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: z.looseObject({ label: nonEmpty, url: z.url().optional(), icon: z.url().optional(), topic: coding.optional() }),
    suggestions: z.array(suggestion).min(1).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(coding.extend({ display: nonEmpty })).min(1).optional(),
    links: z.array(link).min(1).optional(),
    extension: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((c) => c.suggestions === undefined || c.selectionBehavior !== undefined, 'selectionBehavior is required with suggestions');

export const cdsResponseSchema = z.looseObject({
  cards: z.array(cdsCardSchema),
  systemActions: z.array(action).min(1).optional(),
});

export const cdsDiscoverySchema = z.looseObject({
  services: z.array(
    z.looseObject({
      hook: nonEmpty,
      title: nonEmpty.optional(),
      description: nonEmpty,
      id: z.string().regex(/^[A-Za-z0-9._~-]+$/, 'id is a URL path segment'),
      prefetch: z.record(z.string(), nonEmpty).optional(),
    }),
  ),
});
