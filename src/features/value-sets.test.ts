import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ValueSet } from 'fhir/r4.js';
import { modelManifestSchema } from '../models/manifest.ts';
import { ICD10CM, LOINC, RXNORM, SNOMED } from './codings.ts';
import { shippedValueSets } from './test-fixtures.ts';

const CORPUS_MEDICATION_CODES = new URL('../../test/fixtures/synthea/corpus-medication-codes.json', import.meta.url);
import { UnknownValueSetError, codeSetConcepts, defaultValueSetsDir, expandCodeSet, manifestValueSetProblems, valueSetIndex } from './value-sets.ts';

const BASE = 'http://fhir-risk.org/fhir/ValueSet/';
const EXPECTED = [
  'antihypertensives', 'atrial-fibrillation', 'bmi', 'body-temperature', 'consciousness', 'current-smoker-values', 'diabetes', 'egfr', 'gcs',
  'hdl-cholesterol', 'heart-failure', 'heart-rate', 'hypertension', 'inhaled-oxygen', 'pregnancy', 'respiratory-rate', 'smoking-status',
  'spo2', 'statins', 'stroke-tia-thromboembolism', 'systolic-bp', 'total-cholesterol', 'vascular-disease',
];

describe('shipped value sets', async () => {
  const index = await shippedValueSets();

  it('loads exactly the 23 named sets, each with its canonical url and no filters', () => {
    assert.deepEqual([...index.byUrl.keys()].sort(), EXPECTED.map((n) => BASE + n).sort());
    for (const file of readdirSync(defaultValueSetsDir())) {
      const vs = JSON.parse(readFileSync(`${defaultValueSetsDir()}/${file}`, 'utf8')) as ValueSet;
      assert.equal(vs.url, BASE + file.replace(/\.json$/, ''));
      assert.equal(vs.id, file.replace(/\.json$/, ''));
      assert.ok(vs.compose?.include.every((i) => !i.filter && (i.concept?.length ?? 0) > 0), file);
    }
  });

  it('has the codes the brief and MODELS.md name', () => {
    const has = (name: string, system: string, code: string): boolean => expandCodeSet({ valueSets: [BASE + name] }, index).has(`${system}|${code}`);
    assert.ok(has('total-cholesterol', LOINC, '14647-2'));
    assert.ok(has('systolic-bp', LOINC, '8480-6'));
    assert.ok(has('current-smoker-values', SNOMED, '428061000124105'));
    assert.ok(!has('current-smoker-values', SNOMED, '8517006'), 'ex-smoker is not current');
    for (const code of ['73211009', '44054006', '46635009', '127013003', '90781000119102', '157141000119108', '368581000119106', '1551000119108', '422034002', '97331000119101']) {
      assert.ok(has('diabetes', SNOMED, code), code);
    }
    assert.ok(!has('diabetes', SNOMED, '714628002'), 'prediabetes is not diabetes');
    assert.ok(has('diabetes', ICD10CM, 'E11.9') && has('diabetes', ICD10CM, 'E119') && has('diabetes', ICD10CM, 'E13'));
    assert.ok(has('hypertension', SNOMED, '59621000') && has('hypertension', SNOMED, '38341003'));
    assert.ok(has('pregnancy', SNOMED, '77386006') && !has('pregnancy', SNOMED, '161744009'));
    assert.ok(has('spo2', LOINC, '59408-5') && has('egfr', LOINC, '98979-8') && has('inhaled-oxygen', LOINC, '3150-0'));
  });

  it('antihypertensives and statins cover every such drug prescribed in the Synthea corpus, and do not overlap on plain statins', () => {
    const antihypertensive = expandCodeSet({ valueSets: [BASE + 'antihypertensives'] }, index);
    const statins = expandCodeSet({ valueSets: [BASE + 'statins'] }, index);
    // Every RxNorm code prescribed in the 100-patient corpus, extracted once (test/fixtures/README.md).
    const corpus = JSON.parse(readFileSync(CORPUS_MEDICATION_CODES, 'utf8')) as { codes: Record<string, string> };
    const seen = new Set(Object.keys(corpus.codes));
    const inCorpusAntihypertensives = ['314076', '314077', '310798', '316049', '308136', '197361', '866412', '866414', '866427', '866436', '866924', '897718', '979480', '979485', '979492', '200033', '856519', '197379', '197886', '313988', '315971'];
    for (const code of inCorpusAntihypertensives) {
      assert.ok(seen.has(code), `fixture: ${code} is in the corpus`);
      assert.ok(antihypertensive.has(`${RXNORM}|${code}`), code);
    }
    for (const code of ['316672', '314231', '312961', '617311', '859424']) assert.ok(statins.has(`${RXNORM}|${code}`), code);
    assert.ok(!antihypertensive.has(`${RXNORM}|316672`));
    for (const notBp of ['197604', '309362', '855332', '860975']) assert.ok(!antihypertensive.has(`${RXNORM}|${notBp}`), `${notBp} (digoxin, clopidogrel, warfarin, metformin)`);
  });

  it('every shipped model manifest refers only to known value sets', () => {
    const modelsDir = new URL('../../models/', import.meta.url);
    const ids = readdirSync(modelsDir).filter((d) => existsSync(new URL(`${d}/model.json`, modelsDir)));
    assert.ok(ids.length > 0);
    for (const id of ids) {
      const manifest = modelManifestSchema.parse(JSON.parse(readFileSync(new URL(`${id}/model.json`, modelsDir), 'utf8')));
      assert.deepEqual(manifestValueSetProblems(manifest, index), [], id);
    }
  });
});

describe('expandCodeSet', async () => {
  const index = await shippedValueSets();

  it('joins inline codes and value sets; caches per code set', () => {
    const set = { codes: [{ system: LOINC, code: '85354-9' }], valueSets: [BASE + 'systolic-bp'] };
    const keys = expandCodeSet(set, index);
    assert.ok(keys.has(`${LOINC}|85354-9`) && keys.has(`${LOINC}|8480-6`));
    assert.equal(expandCodeSet(set, index), keys);
    assert.deepEqual(codeSetConcepts(set, index).map((c) => c.code).sort(), ['72313002', '8480-6', '85354-9']);
  });

  it('an unknown URL is an error naming it; a version suffix is ignored', () => {
    assert.throws(() => expandCodeSet({ valueSets: [BASE + 'nope'] }, index), (err: unknown) => err instanceof UnknownValueSetError && err.message.includes(BASE + 'nope'));
    assert.ok(expandCodeSet({ valueSets: [BASE + 'bmi|1.0.0'] }, index).has(`${LOINC}|39156-5`));
  });
});

describe('valueSetIndex', () => {
  const vs = (url: string, compose: ValueSet['compose']): ValueSet => ({ resourceType: 'ValueSet', url, status: 'active', compose });

  it('rejects filters (no terminology server) and whole-system includes', () => {
    assert.throws(() => valueSetIndex([vs('urn:a', { include: [{ system: SNOMED, filter: [{ property: 'concept', op: 'is-a', value: '73211009' }] }] })]), /filter/);
    assert.throws(() => valueSetIndex([vs('urn:a', { include: [{ system: SNOMED }] })]), /list the concepts/);
  });

  it('resolves include.valueSet and exclude, and detects cycles', () => {
    const inner = vs('urn:inner', { include: [{ system: SNOMED, concept: [{ code: '1' }, { code: '2' }] }] });
    const outer = vs('urn:outer', { include: [{ valueSet: ['urn:inner'] }, { system: SNOMED, concept: [{ code: '3' }] }], exclude: [{ system: SNOMED, concept: [{ code: '2' }] }] });
    const index = valueSetIndex([outer, inner]);
    assert.deepEqual([...expandCodeSet({ valueSets: ['urn:outer'] }, index)].sort(), [`${SNOMED}|1`, `${SNOMED}|3`]);
    const a = vs('urn:x', { include: [{ valueSet: ['urn:y'] }] });
    const b = vs('urn:y', { include: [{ valueSet: ['urn:x'] }] });
    assert.throws(() => valueSetIndex([a, b]), /includes itself/);
  });
});
