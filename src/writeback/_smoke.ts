import { readFileSync } from 'node:fs';
import { modelManifestSchema } from '../models/manifest.ts';
import { buildRiskAssessment } from './build.ts';
import { validateRiskAssessment } from './validate.ts';
const manifest = modelManifestSchema.parse(JSON.parse(readFileSync('models/ascvd-pce/model.json', 'utf8')));
const vector = { modelId: 'ascvd-pce', at: '2024-03-01T10:00:00Z', values: manifest.features.map((f, i) => ({ name: f.name, value: i + 1, ...(f.unit ? { unit: f.unit } : {}), basis: [`Observation/o${i}/_history/1`] })) };
const t0 = Date.now();
const ra = buildRiskAssessment({ manifest, vector, prediction: { probability: 0.12, bandIndex: 2 }, patientId: 'p1', status: 'final', onnxSha256: 'a'.repeat(64) });
console.log(JSON.stringify(ra, null, 1).slice(0, 3000));
console.log(validateRiskAssessment(ra), Date.now() - t0);
const bad = structuredClone(ra); bad.prediction![0]!.probabilityDecimal = 1.5; (bad as any).identifier = undefined; bad.prediction![0]!.qualitativeRisk!.coding![0]!.code = 'medium'; (bad as any).subject = undefined;
try { validateRiskAssessment(bad); } catch (e) { console.log(String(e)); }
