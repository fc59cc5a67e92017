/** The models shipped in `models/`, in build order. */
import { ascvdPce } from './ascvd-pce.ts';
import { cha2ds2Vasc } from './cha2ds2-vasc.ts';
import { news2 } from './news2.ts';
import { preventCvd } from './prevent-cvd.ts';
import { qsofa } from './qsofa.ts';
import type { ModelDefinition } from './types.ts';

export const builtInModels: readonly ModelDefinition[] = [ascvdPce, preventCvd, news2, cha2ds2Vasc, qsofa];
