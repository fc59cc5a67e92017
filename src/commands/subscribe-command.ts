/**
 * `fhir-risk subscribe`: create (or print) the Subscriptions for the loaded models' triggers.
 */
import type { Config } from '../config.ts';
import { expandCodeSet, loadValueSets } from '../features/value-sets.ts';
import { loadModelRegistry } from '../models/registry.ts';
import { createEhrClients, VALUE_SETS_DIR } from '../service.ts';
import { buildSubscriptions } from './subscribe.ts';

export async function subscribeCommand(
  config: Config,
  opts: { endpoint: string; style: 'r4' | 'backport'; content: 'full-resource' | 'id-only'; dryRun?: boolean },
): Promise<void> {
  const models = await loadModelRegistry({ dir: config.modelsDir, disabled: config.modelsDisabled });
  const valueSets = await loadValueSets(VALUE_SETS_DIR);
  const codes = new Set<string>();
  for (const m of models.list()) for (const c of expandCodeSet(m.manifest.triggers, valueSets)) codes.add(c);
  await models.close();
  const subscriptions = buildSubscriptions({
    endpoint: opts.endpoint,
    style: opts.style,
    content: opts.content,
    ...(config.notifySecret ? { secret: config.notifySecret } : {}),
    codes: { Observation: [...codes], Condition: [...codes] },
  });
  if (opts.dryRun) {
    console.log(JSON.stringify(subscriptions, null, 2));
    return;
  }
  const { ehr } = createEhrClients(config);
  for (const s of subscriptions) {
    // Conditional on endpoint and criteria, so running `subscribe` twice creates nothing new.
    const created = await ehr.createIfNoneExist(s, `url=${encodeURIComponent(opts.endpoint)}&criteria=${encodeURIComponent(s.criteria)}`);
    console.log(`Subscription/${created.resource.id} (${s.criteria})`);
  }
}
