#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with `node --test` through tsx.
//
// Why a script: on Node 20, `node --test` does not expand globs of .ts files and happily reports
// "0 tests" with exit code 0. We list the files ourselves and fail when nothing ran, so a broken
// pattern can never turn CI green.
//
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains a substring)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((d) => findTests(join(root, d)))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (files.length === 0) {
  console.error('run-tests: no test files matched; refusing to report success');
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);

let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const ran = /tests (\d+)/.exec(tail);
  const count = ran ? Number(ran[1]) : 0;
  if (code === 0 && count === 0) {
    console.error('run-tests: the test runner reported 0 tests; failing');
    process.exit(1);
  }
  process.exit(code ?? 1);
});
