import { strict as assert } from 'node:assert';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultModelsDir, resolveModelsDir } from '../../src/core/models/modelsDir';
import { parseGenerateOptions, parseResumeOptions } from '../../src/cli/options';

// One rule for every face: flag/setting → $CONTACT_SHEET_MODELS_DIR → the face's own default → $XDG_CACHE_HOME (~/.cache).
describe('the scoring models folder', () => {
  const cwd = '/work/here';

  it('takes the configured folder first, relative to the working folder', () => {
    const env = { CONTACT_SHEET_MODELS_DIR: '/env/models', XDG_CACHE_HOME: '/xdg' };
    assert.equal(resolveModelsDir({ configured: 'm', env, cwd }), '/work/here/m');
    assert.equal(resolveModelsDir({ configured: '  ', env, cwd }), '/env/models', 'a blank setting counts as unset');
  });

  it('then $CONTACT_SHEET_MODELS_DIR, then the face default, then $XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(resolveModelsDir({ env: { CONTACT_SHEET_MODELS_DIR: 'rel', XDG_CACHE_HOME: '/xdg' }, cwd, faceDefault: '/storage/models' }), '/work/here/rel');
    assert.equal(resolveModelsDir({ env: { XDG_CACHE_HOME: '/xdg' }, cwd, faceDefault: '/storage/models' }), '/storage/models');
    assert.equal(resolveModelsDir({ env: { XDG_CACHE_HOME: '/xdg' }, cwd }), '/xdg/contact-sheet/models');
    assert.equal(resolveModelsDir({ env: {}, cwd }), join(homedir(), '.cache', 'contact-sheet', 'models'));
    assert.equal(defaultModelsDir({ XDG_CACHE_HOME: '/xdg' }), '/xdg/contact-sheet/models');
  });

  it('generate and resume use the same rule as score and models (XDG_CACHE_HOME included)', () => {
    const env = { XDG_CACHE_HOME: '/xdg' };
    assert.equal(parseGenerateOptions(['p.txt'], env, cwd)?.modelsDir, '/xdg/contact-sheet/models');
    assert.equal(parseResumeOptions(['run'], env, cwd)?.modelsDir, '/xdg/contact-sheet/models');
    assert.equal(parseGenerateOptions(['p.txt', '--models-dir', 'mine'], env, cwd)?.modelsDir, '/work/here/mine');
  });
});
