import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile, mkdir, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locatePromptText, MAX_PROMPT_FILE_BYTES, parsePromptText, readPromptFile } from '../../src/core/prompt';
import { main } from '../../src/cli/main';
import { capturedIO } from '../support/runFixture';

const codeIs = (code: string) => (e: { code?: string; action?: string }) => e.code === code && typeof e.action === 'string' && e.action.length > 0;

describe('prompt files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-prompt-'));
  });
  afterEach(async () => {
    await chmod(dir, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a plain .txt prompt, trimmed, with no overrides', async () => {
    const p = join(dir, 'cat.txt');
    await writeFile(p, '\uFEFF  A cat in a hat\r\nwearing # a crown  \n\n');
    const prompt = await readPromptFile(p);
    assert.equal(prompt.text, 'A cat in a hat\nwearing # a crown');
    assert.equal(prompt.format, 'txt');
    assert.equal(prompt.original, null);
    assert.equal(prompt.negative, null);
    assert.deepEqual(prompt.overrides, {});
  });

  it('parses every front matter key, quoted and plain', async () => {
    const p = join(dir, 'p.txt');
    await writeFile(
      p,
      [
        '---',
        '# a comment',
        'original: "a cat: \\"small\\""',
        "negative: 'blurry, it''s bad'",
        'model: stability-ai/sdxl',
        'aspect_ratio: 1:1',
        '',
        'seed: 42',
        'num_variations: 3',
        '---',
        'A small cat, studio light',
      ].join('\n'),
    );
    const prompt = await readPromptFile(p);
    assert.equal(prompt.text, 'A small cat, studio light');
    assert.equal(prompt.original, 'a cat: "small"');
    assert.equal(prompt.negative, "blurry, it's bad");
    assert.deepEqual(prompt.overrides, { model: 'stability-ai/sdxl', aspectRatio: '1:1', seed: 42, numVariations: 3 });
  });

  it('takes a leading "# Title" of a .md file as its title, not as prompt text', async () => {
    const p = join(dir, 'p.md');
    await writeFile(p, '---\nseed: 7\n---\n\n# Crowned cat\n\nA cat wearing a crown.\n\n## Style\nOil painting.\n');
    const prompt = await readPromptFile(p);
    assert.equal(prompt.title, 'Crowned cat');
    assert.equal(prompt.text, 'A cat wearing a crown.\n\n## Style\nOil painting.');
    assert.equal(prompt.overrides.seed, 7);
    // In a .txt file the same line is prompt text.
    assert.equal(parsePromptText('# Crowned cat\nA cat', 'txt').text, '# Crowned cat\nA cat');
  });

  it('refuses empty, title-only, binary, invalid UTF-8, huge, missing and unreadable files with an action', async () => {
    const cases: [string, Buffer | string, string][] = [
      ['empty.txt', '  \n\t\n', 'prompt-empty'],
      ['fm-only.txt', '---\nseed: 1\n---\n\n', 'prompt-empty'],
      ['title.md', '# Only a title\n', 'prompt-empty'],
      ['bin.txt', Buffer.from([0x41, 0x00, 0x42]), 'prompt-binary'],
      ['latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'prompt-binary'],
      ['huge.txt', 'a'.repeat(MAX_PROMPT_FILE_BYTES + 1), 'prompt-too-large'],
    ];
    for (const [name, content, code] of cases) {
      await writeFile(join(dir, name), content);
      await assert.rejects(readPromptFile(join(dir, name)), codeIs(code), name);
    }
    // Exactly at the limit is fine.
    await writeFile(join(dir, 'limit.txt'), 'a'.repeat(MAX_PROMPT_FILE_BYTES));
    assert.equal((await readPromptFile(join(dir, 'limit.txt'))).text.length, MAX_PROMPT_FILE_BYTES);
    await assert.rejects(readPromptFile(join(dir, 'nope.txt')), codeIs('prompt-missing'));
    await mkdir(join(dir, 'folder.txt'));
    await assert.rejects(readPromptFile(join(dir, 'folder.txt')), codeIs('prompt-unreadable'));
    if (process.getuid?.() !== 0) {
      await writeFile(join(dir, 'locked.txt'), 'a cat');
      await chmod(join(dir, 'locked.txt'), 0o000);
      await assert.rejects(readPromptFile(join(dir, 'locked.txt')), codeIs('prompt-unreadable'));
    }
  });

  it('refuses a symbolic link to a file outside the prompt folder (or the workspace given), and follows one inside', async () => {
    const secret = join(dir, 'outside', 'secret.txt');
    await mkdir(join(dir, 'outside'));
    await writeFile(secret, 'a prompt that is not in the prompt folder');
    await mkdir(join(dir, 'prompts'));
    await symlink(secret, join(dir, 'prompts', 'leak.txt'));
    await assert.rejects(
      readPromptFile(join(dir, 'prompts', 'leak.txt')),
      (e: { code?: string; message?: string; action?: string }) => codeIs('prompt-unreadable')(e) && /symbolic link to a file outside/.test(e.message ?? ''),
    );
    // A link within the folder is fine; so is the target given directly.
    await writeFile(join(dir, 'prompts', 'real.txt'), 'A fox');
    await symlink(join(dir, 'prompts', 'real.txt'), join(dir, 'prompts', 'alias.txt'));
    assert.equal((await readPromptFile(join(dir, 'prompts', 'alias.txt'))).text, 'A fox');
    assert.equal((await readPromptFile(secret)).text, 'a prompt that is not in the prompt folder');
    // The extension passes its workspace folder: a link inside the workspace to outside it is refused,
    // and a file outside the workspace too.
    await mkdir(join(dir, 'ws', 'sub'), { recursive: true });
    await symlink(join(dir, 'outside'), join(dir, 'ws', 'sub', 'linked'));
    await assert.rejects(readPromptFile(join(dir, 'ws', 'sub', 'linked', 'secret.txt'), { within: join(dir, 'ws') }), codeIs('prompt-unreadable'));
    await assert.rejects(readPromptFile(secret, { within: join(dir, 'ws') }), codeIs('prompt-unreadable'));
    await writeFile(join(dir, 'ws', 'sub', 'ok.txt'), 'A heron');
    assert.equal((await readPromptFile(join(dir, 'ws', 'sub', 'ok.txt'), { within: join(dir, 'ws') })).text, 'A heron');
  });

  it('refuses devices, FIFOs and huge sparse files without reading them (no hang, no memory)', async () => {
    await symlink('/dev/zero', join(dir, 'zero.txt'));
    await assert.rejects(readPromptFile(join(dir, 'zero.txt'), { within: '/' }), codeIs('prompt-unreadable'));
    execFileSync('mkfifo', [join(dir, 'pipe.txt')]);
    // Opening a FIFO for reading would wait for a writer forever: refused at once instead.
    await assert.rejects(readPromptFile(join(dir, 'pipe.txt')), codeIs('prompt-unreadable'));
    await writeFile(join(dir, 'sparse.txt'), '');
    await truncate(join(dir, 'sparse.txt'), 8 * 1024 ** 3);
    await assert.rejects(readPromptFile(join(dir, 'sparse.txt')), codeIs('prompt-too-large'));
  });

  it('the CLI refuses a prompt that is a link out of its folder, binary or not UTF-8 (exit 1, nothing sent)', async () => {
    await mkdir(join(dir, 'p'));
    await writeFile(join(dir, 'elsewhere.txt'), 'A secret');
    await symlink(join(dir, 'elsewhere.txt'), join(dir, 'p', 'link.txt'));
    await writeFile(join(dir, 'p', 'bin.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    await writeFile(join(dir, 'p', 'latin1.txt'), Buffer.from('caf\xe9 au lait', 'latin1'));
    for (const [file, code] of [['link.txt', 'prompt-unreadable'], ['bin.txt', 'prompt-binary'], ['latin1.txt', 'prompt-binary']]) {
      const io = capturedIO({ isTTY: false, env: { PATH: process.env.PATH }, signal: new AbortController().signal, cwd: dir });
      assert.equal(await main(['generate', join(dir, 'p', file), '--dry-run'], io), 1, file);
      assert.match(io.stderrText, new RegExp(`\\[${code}\\].*\\n  → `), file);
    }
  });

  it('rejects bad front matter with the line and the allowed keys', () => {
    const bad: [string, RegExp][] = [
      ['---\nmodle: a/b\n---\nx', /line 2: unknown key "modle"/],
      ['---\nseed: 1\nseed: 2\n---\nx', /"seed" is given twice/],
      ['---\nseed: -1\n---\nx', /seed "-1" must be a whole number/],
      ['---\nseed: 4294967296\n---\nx', /seed/],
      ['---\nnum_variations: 17\n---\nx', /num_variations "17"/],
      ['---\nnum_variations: 0\n---\nx', /num_variations "0"/],
      ['---\naspect_ratio: 2:1\n---\nx', /aspect_ratio "2:1" is not one of/],
      ['---\nmodel: flux\n---\nx', /model "flux" is not/],
      ['---\nnegative: "unterminated\n---\nx', /unterminated double quote/],
      ['---\njust text\n---\nx', /expected "key: value"/],
      ['---\nseed: 1\nx', /no closing/],
      ['---\noriginal:\n---\nx', /"original" is empty/],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => parsePromptText(text, 'txt'),
        (e: { code?: string; message?: string; action?: string }) =>
          e.code === 'prompt-front-matter' && message.test(e.message ?? '') && /allowed keys: original, negative/.test(e.action ?? ''),
        text,
      );
    }
  });
});

describe('locatePromptText (where an editor replaces the prompt)', () => {
  const cases: { name: string; content: string; format: 'txt' | 'md' }[] = [
    { name: 'plain text with BOM and CRLF', content: '\uFEFF  A cat in a hat\r\nwearing a crown  \r\n\r\n', format: 'txt' },
    { name: 'front matter, CRLF', content: '---\r\nseed: 4\r\nnegative: "blur"\r\n---\r\n\r\nA fox in snow\r\n', format: 'txt' },
    { name: 'markdown title after blank lines and front matter', content: '---\nseed: 1\n---\n\n# Fox\n\nA red fox\n\n## not a title\n', format: 'md' },
    { name: 'markdown without a title', content: 'A heron\n# late heading\n', format: 'md' },
    { name: 'a # line in a txt file is prompt text', content: '# not a title in txt\nA heron', format: 'txt' },
  ];
  for (const { name, content, format } of cases) {
    it(`spans exactly the parsed prompt text: ${name}`, () => {
      const { start, end } = locatePromptText(content, format);
      const parsed = parsePromptText(content, format);
      assert.equal(content.slice(start, end).replace(/\r\n?/g, '\n'), parsed.text);
      // Replacing the span changes the prompt and keeps everything else.
      const edited = content.slice(0, start) + 'A new prompt' + content.slice(end);
      const reparsed = parsePromptText(edited, format);
      assert.equal(reparsed.text, 'A new prompt');
      assert.deepEqual({ ...reparsed, text: '' }, { ...parsed, text: '' });
    });
  }

  it('points after the front matter when there is no text yet', () => {
    const content = '---\nseed: 1\n---\n';
    const { start, end } = locatePromptText(content, 'txt');
    assert.equal(start, content.length);
    assert.equal(end, start);
  });

  it('throws the parser’s error on bad front matter', () => {
    assert.throws(() => locatePromptText('---\nsneed: 1\n---\nA cat', 'txt'), codeIs('prompt-front-matter'));
  });
});
