/**
 * The admin pages in a real browser (headless Chromium through playwright-core): `/admin` renders
 * its sections with numbers after a scoring and shows no patient data (the patient has a name no
 * page could contain by accident), and `/admin/queues` loads Bull Board with our three queues.
 *
 * Needs Debian's `chromium` (`apt-get install chromium`); without it the test fails and says so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { Bundle, Patient } from 'fhir/r4.js';
import { chromium, type Browser } from 'playwright-core';
import { createAdminRouter } from '../../src/admin/router.ts';
import { createApiAuth } from '../../src/api/api-auth.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { patientBundleFromVector, pceVector } from '../support/pce-patient.ts';

const CHROMIUM = '/usr/bin/chromium';
const GIVEN = 'Zebulon';
const FAMILY = 'Quixotewright';

let h: Harness;
let browser: Browser;
let admin: Server;
let adminUrl: string;
let patientId: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: apt-get install chromium`);
  h = await startHarness({ SWEEP_INTERVAL: 'off', RESCORE_INTERVAL: 'off' });
  const app = express();
  // As the app mounts it: behind the API auth (here API_AUTH=none).
  app.use('/admin', createApiAuth({ mode: 'none' }), createAdminRouter({ pipeline: h.service.pipeline, models: h.service.models }));
  admin = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = admin.address();
  adminUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/admin`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

  // A patient with a distinctive name, scored once.
  patientId = `admin-ui-${Date.now()}`;
  const bundle: Bundle = patientBundleFromVector(pceVector('pce-cvrisk-white-male-55-sbp140'), patientId, new Date());
  (bundle.entry![0]!.resource as Patient).name = [{ given: [GIVEN], family: FAMILY }];
  await h.fhir('POST', '', bundle);
  await h.service.pipeline.scheduler.schedule(patientId, ['ascvd-pce'], 'test:admin-ui', Date.now());
  await h.waitForAssessments(patientId, (ras) => ras.length === 1);
  await h.waitForIdle();
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  await h?.stop();
});

describe('admin UI in Chromium', () => {
  it('/admin shows throughput, latency, queues, failures and models with numbers, and no patient name', async () => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(adminUrl);
      assert.equal(response?.status(), 200);
      assert.equal(page.url(), `${adminUrl}/`, 'redirected to the trailing slash so relative links work');
      for (const id of ['throughput', 'latency', 'queues', 'failures', 'models']) {
        assert.equal(await page.locator(`section#${id} h2`).count(), 1, `section ${id}`);
      }
      const written = await page.locator('#throughput-table tr', { hasText: 'ascvd-pce' }).locator('td').first().innerText();
      assert.ok(Number(written) >= 1, `written scorings for ascvd-pce: ${written}`);
      const writtenLatency = page.locator('#latency-table tr', { hasText: 'written' });
      assert.match(await writtenLatency.locator('td').nth(1).innerText(), /^\d+(\.\d+)? m?s$/, 'p50 of the written stage');
      const scoresRow = page.locator('#queues-table tr', { hasText: 'scores' }).locator('td');
      assert.ok(Number(await scoresRow.nth(6).innerText()) >= 1, 'completed score jobs');
      assert.equal(await page.locator('#queues-table tbody tr').count(), 3, 'events, scores, maintenance');
      assert.equal(await page.locator('#models-table tbody tr').count(), h.service.models.list().length);
      assert.match(await page.locator('#models-table tr', { hasText: 'ascvd-pce' }).innerText(), /ascvd-pce/);

      const html = await page.content();
      for (const secret of [GIVEN, FAMILY]) assert.ok(!html.includes(secret), `the page contains ${secret}`);
      assert.ok(!html.includes('<script'), 'no script on the status page');
      assert.ok(!/(src|href)="https?:/.test(html), 'no external asset');
    } finally {
      await page.close();
    }
  });

  it('a dead-lettered job appears under recent failures by id and queue only', async () => {
    const job = await h.service.pipeline.maintenance.add('sweep', { task: 'bogus' as 'sweep' }, { attempts: 1 });
    // Our maintenance worker fails unknown tasks at once.
    for (let i = 0; i < 100 && !(await job.isFailed()); i++) await new Promise((r) => setTimeout(r, 50));
    const page = await browser.newPage();
    try {
      await page.goto(`${adminUrl}/`);
      const row = page.locator('#failures-table tr', { hasText: String(job.id) });
      assert.equal(await row.count(), 1);
      assert.match(await row.innerText(), /maintenance/);
      assert.match(await row.innerText(), /unknown maintenance task/);
    } finally {
      await page.close();
    }
  });

  it('/admin/queues loads Bull Board with the events, scores and maintenance queues', async () => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(`${adminUrl}/queues`);
      assert.equal(response?.status(), 200);
      for (const name of ['events', 'scores', 'maintenance']) {
        await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      const content = await page.content();
      assert.ok(!content.includes(FAMILY));
    } finally {
      await page.close();
    }
  });
});
