const rss = () => Math.round(process.memoryUsage().rss / 1048576);
console.log('start', rss());
const { loadModelRegistry } = await import('../../src/models/registry.ts');
const { BUNDLED_MODELS_DIR } = await import('../../src/config.ts');
const models = await loadModelRegistry({ dir: BUNDLED_MODELS_DIR });
console.log('models', rss());
const { validateRiskAssessment } = await import('../../src/writeback/validate.ts');
try { validateRiskAssessment({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' } } as never); } catch { /* */ }
console.log('after validate', rss());
global.gc?.();
console.log('after gc', rss(), Math.round(process.memoryUsage().heapUsed / 1048576));
await models.close();
const { readFileSync } = await import('node:fs');
console.log('VmHWM', /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1], 'kB');
