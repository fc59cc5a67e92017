/** The bring-your-own-model examples under `examples/byo-models/`, in build order. */
import { readmissionGbt } from './readmission-gbt.ts';
import { readmissionLogreg } from './readmission-logreg.ts';
import type { ExampleDefinition } from './types.ts';
import { zipmapExample } from './zipmap-example.ts';

export const exampleModels: readonly ExampleDefinition[] = [readmissionLogreg, readmissionGbt, zipmapExample];
