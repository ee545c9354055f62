import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Manifest } from '../../../src/core/models/manifest';
import type { StoredFileRecord } from '../../../src/core/models/store';
import { downloadModels } from '../../../src/extension/commands/downloadModels';
import { startHubServer, type HubServer } from '../../../src/sandbox/hub/server';
import { makeTinyModels } from '../../../src/sandbox/tinyModels/makeTinyModels';
import { contactSheet } from '../support/extensionApi';

/** "Download Scoring Models" in the real extension host, against a local hub serving tiny models. */
describe('Contact Sheet: Download Scoring Models', function () {
  this.timeout(120_000);
  let root: string;
  let hub: HubServer | undefined;

  before(async () => {
    root = await fs.mkdtemp(join(tmpdir(), 'cs-int-models-'));
  });

  after(async () => {
    const config = vscode.workspace.getConfiguration('contactSheet');
    for (const key of ['scoring.modelsDir', 'scoring.hubEndpoint']) await config.update(key, undefined, vscode.ConfigurationTarget.Workspace);
    await hub?.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('downloads and verifies every scoring model into the models folder', async () => {
    await fs.mkdir(join(root, 'tiny'));
    const tiny = await makeTinyModels(join(root, 'tiny'));
    hub = await startHubServer(tiny.hubRoot);
    const manifest = JSON.parse(await fs.readFile(tiny.manifestPath, 'utf8')) as Manifest;
    const modelsDir = join(root, 'models');

    // Folder and hub come from the settings, as a user sets them; the manifest (not settable by any
    // command caller) is the tiny models' one, given to the command's function directly.
    const config = vscode.workspace.getConfiguration('contactSheet');
    await config.update('scoring.modelsDir', modelsDir, vscode.ConfigurationTarget.Workspace);
    await config.update('scoring.hubEndpoint', hub.url, vscode.ConfigurationTarget.Workspace);
    const { services } = await contactSheet();
    await downloadModels(services, undefined, { manifestPath: tiny.manifestPath });

    for (const [id, model] of Object.entries(manifest.models)) {
      const record = JSON.parse(await fs.readFile(join(modelsDir, id, 'store.json'), 'utf8')) as { files: Record<string, StoredFileRecord> };
      for (const file of model.files.filter((f) => !f.optional)) {
        const bytes = await fs.stat(join(modelsDir, id, 'files', file.path));
        assert.equal(bytes.size, file.size, `${id}/${file.path} size`);
        const recorded = record.files[file.path];
        assert.ok(recorded, `${id}/${file.path} is recorded in store.json`);
        assert.equal(recorded.origin, 'download');
        if (file.sha256) assert.equal(recorded.sha256, file.sha256, `${id}/${file.path} verified`);
      }
    }
    assert.ok(hub.requests.some((r) => r.method === 'GET'), 'files came from the hub');
  });
});
