/**
 * Canonical URLs of fhir-risk's conformance resources (`fhir-profiles/`), in one place so the
 * builder, the validator and the profiles cannot drift apart.
 */

/** Canonical base of every fhir-risk conformance resource. */
export const CANONICAL_BASE = 'http://fhir-risk.org/fhir';

/** `meta.profile` of every RiskAssessment fhir-risk writes. */
export const RISK_ASSESSMENT_PROFILE = `${CANONICAL_BASE}/StructureDefinition/fhir-risk-assessment`;

/** System of `identifier[0]`, the deterministic assessment identifier. */
export const ASSESSMENT_IDENTIFIER_SYSTEM = `${CANONICAL_BASE}/sid/assessment`;

/** CodeSystem of model ids (`method.coding[0]`). */
export const MODELS_SYSTEM = `${CANONICAL_BASE}/CodeSystem/models`;

/** CodeSystem of each model's own risk bands (second `qualitativeRisk` coding). */
export const RISK_BAND_SYSTEM = `${CANONICAL_BASE}/CodeSystem/risk-band`;

/** HL7's risk-probability CodeSystem (first `qualitativeRisk` coding). */
export const RISK_PROBABILITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/risk-probability';

/** Codes of {@link RISK_PROBABILITY_SYSTEM} (a required binding we check ourselves). */
export const RISK_PROBABILITY_CODES = ['negligible', 'low', 'moderate', 'high', 'certain'] as const;

/** Extension on `prediction`: the points score (`valueDecimal`). */
export const RISK_SCORE_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/risk-score`;

/** Extension on RiskAssessment, one per model input: name, value, contribution, assumption, sources. */
export const RISK_INPUT_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/risk-input`;

/** Extension on RiskAssessment: sha256 of the ONNX file that computed the prediction (provenance). */
export const MODEL_ONNX_SHA256_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/model-onnx-sha256`;

/** UCUM, for the units of feature values. */
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
