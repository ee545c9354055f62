import { strict as assert } from 'node:assert';
import {
  chatTemplateText,
  singleImageExpansion,
  vqaPromptText,
  vqaQuestion,
  withoutSpecialTokens,
} from '../../src/core/scoring/vqa/chatPrompt';
import { describeSmolVlmVariant, parseSmolVlmVariant, smolVlmRequiredFiles } from '../../src/core/scoring/vqa/smolvlmVariant';
import { fromHalfBits, toHalfBits } from '../../src/core/models/float16';
import { ContactSheetError } from '../../src/shared/errors';

describe('VQAScore question and SmolVLM chat prompt', () => {
  it('uses the VQAScore template', () => {
    assert.equal(vqaQuestion('a red cat on a sofa'), 'Does this figure show "a red cat on a sofa"? Please answer yes or no.');
  });

  it('applies the SmolVLM chat template with the generation prompt (image first → "User:" without a space)', () => {
    assert.equal(chatTemplateText('Q?'), '<|im_start|>User:<image>Q?<end_of_utterance>\nAssistant:');
  });

  it('expands the one image to fake/global tokens around image_seq_len <image> tokens', () => {
    assert.equal(singleImageExpansion(3), '<fake_token_around_image><global-img><image><image><image><fake_token_around_image>');
    const text = vqaPromptText('a dog', 64);
    assert.equal(text.split('<image>').length - 1, 64);
    assert.ok(text.startsWith('<|im_start|>User:<fake_token_around_image><global-img><image>'));
    assert.ok(text.endsWith('<fake_token_around_image>Does this figure show "a dog"? Please answer yes or no.<end_of_utterance>\nAssistant:'));
  });

  it('removes special-token strings from the user prompt so it cannot add image slots', () => {
    assert.equal(withoutSpecialTokens('a <image> cat<end_of_utterance>'), 'a  cat');
    assert.equal(vqaPromptText('x<image>y', 2).split('<image>').length - 1, 2);
  });
});

describe('SmolVLM variants', () => {
  it('defaults to int8 vision and decoder with the fp32 embedding, and names it', () => {
    const v = parseSmolVlmVariant(undefined);
    assert.deepEqual(v, { vision: 'int8', embed: 'fp32', decoder: 'int8' });
    assert.equal(describeSmolVlmVariant(v), 'vision int8, decoder int8');
    assert.deepEqual(smolVlmRequiredFiles(v), [
      'config.json',
      'preprocessor_config.json',
      'tokenizer.json',
      'onnx/vision_encoder_int8.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged_int8.onnx',
    ]);
  });

  it('parses presets and explicit per-graph precisions; rejects unknown ones as bad-usage', () => {
    assert.deepEqual(parseSmolVlmVariant('q4'), { vision: 'int8', embed: 'fp32', decoder: 'q4' });
    assert.deepEqual(parseSmolVlmVariant('vision=fp16, decoder=q4f16, embed=int8'), { vision: 'fp16', embed: 'int8', decoder: 'q4f16' });
    assert.equal(describeSmolVlmVariant(parseSmolVlmVariant('vision=fp16,embed=int8')), 'vision fp16, embed int8, decoder int8');
    assert.deepEqual(smolVlmRequiredFiles(parseSmolVlmVariant('fp32')).slice(3), [
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged.onnx',
    ]);
    assert.throws(() => parseSmolVlmVariant('vision=int3'), (e: unknown) => e instanceof ContactSheetError && e.code === 'bad-usage' && !!e.action);
  });
});

describe('float16 conversion (fp16 graph inputs/outputs)', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8]) assert.equal(fromHalfBits(toHalfBits(v)), v);
    assert.equal(toHalfBits(1), 0x3c00);
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // tie → even
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(toHalfBits(1e6), 0x7c00);
    assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  });
});
