import { runInferenceBench } from '../inference/inference-bench.ts';
console.log(await runInferenceBench({ secondsPerCase: 1 }, console.log));
