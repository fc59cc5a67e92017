import { validateRiskAssessment } from '../../src/writeback/validate.ts';
const t = performance.now();
try { validateRiskAssessment({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' } } as never); } catch (e) { console.log('err', (e as Error).message.slice(0, 80)); }
console.log('first validate ms', performance.now() - t);
const t2 = performance.now();
try { validateRiskAssessment({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' } } as never); } catch { /* */ }
console.log('second validate ms', performance.now() - t2);
