/** The models shipped in `models/`, in build order. */
import { ascvdPce } from './ascvd-pce.ts';
import type { ModelDefinition } from './types.ts';

export const builtInModels: readonly ModelDefinition[] = [ascvdPce];
