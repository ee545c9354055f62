import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContactSheetError } from '../../src/shared/errors';
import { parseModelRef } from '../../src/core/replicate/modelRef';
import { checkBudget, costOf, estimateRunCost, loadPricing } from '../../src/core/replicate/pricing';

const pricing = loadPricing();

describe('pricing', () => {
  it('loads the dated table from the package root', () => {
    assert.equal(pricing.schema_version, 1);
    assert.match(pricing.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(pricing.sources.some((s) => s.startsWith('https://replicate.com/pricing')));
    assert.equal(pricing.official['black-forest-labs/flux-schnell'].usd_per_image, 0.003);
    assert.equal(pricing.hardware_usd_per_second[pricing.community_default_hardware] > 0, true);
  });

  it('official model: per image, with source and table date', () => {
    const c = costOf(parseModelRef('black-forest-labs/flux-1.1-pro'), { metrics: { predict_time: 3.2 } }, pricing);
    assert.deepEqual(c, { usd: 0.04, source: 'official price', pricing_date: pricing.date, basis: 'black-forest-labs/flux-1.1-pro: 0.04 USD per image' });
  });

  it('official model: a prediction without output is not billed', () => {
    const c = costOf(parseModelRef('google/imagen-4'), { status: 'failed' }, pricing);
    assert.equal(c.usd, 0);
    assert.equal(c.source, 'official price');
  });

  it('community model: predict_time × the hardware the API reported', () => {
    const c = costOf(parseModelRef('stability-ai/sdxl'), { metrics: { predict_time: 2.5 } }, pricing, 'gpu-a100-large');
    assert.equal(c.usd, 0.0035);
    assert.equal(c.source, 'predict_time × GPU price');
    assert.match(c.basis!, /A100.*0\.0014 USD\/s × 2\.50 s$/);
  });

  it('community model: the table\'s hardware when none is reported, and says so', () => {
    const c = costOf(parseModelRef('stability-ai/sdxl'), { metrics: { predict_time: 4 } }, pricing);
    assert.equal(c.usd, 0.0039);
    assert.match(c.basis!, /hardware from the pricing table/);
    const unknownModel = costOf(parseModelRef(`someone/thing:${'a'.repeat(64)}`), { metrics: { predict_time: 10 } }, pricing);
    assert.equal(unknownModel.usd, 0.00975);
    assert.match(unknownModel.basis!, /assumed the table default/);
  });

  it('a pinned version of an official model is billed by time', () => {
    const c = costOf(parseModelRef(`black-forest-labs/flux-schnell:${'b'.repeat(64)}`), { metrics: { predict_time: 1 } }, pricing);
    assert.equal(c.source, 'predict_time × GPU price');
  });

  it('unknown when there is neither a price nor a predict_time, or the hardware has no price', () => {
    const a = costOf(parseModelRef('someone/thing'), {}, pricing);
    assert.deepEqual([a.usd, a.source, a.pricing_date], [null, 'unknown', pricing.date]);
    const b = costOf(parseModelRef('someone/thing'), { metrics: { predict_time: 3 } }, pricing, 'gpu-quantum-9000');
    assert.deepEqual([b.usd, b.source], [null, 'unknown']);
    assert.match(b.basis!, /gpu-quantum-9000/);
  });

  it('estimates a run on the primary model and names the fallbacks\' prices', () => {
    const e = estimateRunCost(['black-forest-labs/flux-schnell', 'stability-ai/sdxl'], 8, pricing);
    assert.equal(e.usd, 0.024);
    assert.equal(e.perImage, 0.003);
    assert.equal(e.source, 'official price');
    assert.match(e.basis, /^8 × black-forest-labs\/flux-schnell 0\.003 USD per image/);
    assert.match(e.basis, /stability-ai\/sdxl ~0\.0078 USD/);
    const community = estimateRunCost(['stability-ai/sdxl'], 4, pricing);
    assert.equal(community.usd, 0.0312);
    assert.equal(community.source, 'predict_time × GPU price');
    const unknown = estimateRunCost(['someone/thing'], 4, pricing);
    assert.deepEqual([unknown.usd, unknown.perImage, unknown.source], [null, null, 'unknown']);
  });

  it('budget guard: throws budget-exceeded with the estimate, passes under the limit, warns when unknown', () => {
    const e = estimateRunCost(['black-forest-labs/flux-1.1-pro'], 10, pricing);
    assert.throws(
      () => checkBudget(e, 0.25),
      (err: ContactSheetError) => err.code === 'budget-exceeded' && /0\.4000 USD/.test(err.message) && /0\.25 USD/.test(err.message) && !!err.action,
    );
    assert.equal(checkBudget(e, 1), undefined);
    assert.equal(checkBudget(e, undefined), undefined);
    assert.match(checkBudget(estimateRunCost(['someone/thing'], 4, pricing), 1) ?? '', /unknown/);
  });

  describe('a broken table', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cs-pricing-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    it('is an internal error telling the user to reinstall', async () => {
      const file = join(dir, 'pricing.json');
      await writeFile(file, JSON.stringify({ schema_version: 2 }));
      assert.throws(() => loadPricing(file), (e: ContactSheetError) => e.code === 'internal' && /Reinstall/.test(e.action ?? ''));
      await writeFile(file, '{not json');
      assert.throws(() => loadPricing(file), (e: ContactSheetError) => e.code === 'internal');
    });
  });
});
