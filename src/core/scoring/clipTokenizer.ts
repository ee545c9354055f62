/**
 * CLIP text tokenization with the model's own tokenizer.json, run by @huggingface/tokenizers
 * (normalizer, split regex, byte-level BPE with `</w>` all come from the file; nothing is
 * re-implemented here). This module only adds CLIP's framing: BOS + at most 75 content tokens +
 * EOS, no padding — the text towers take the unpadded sequence and pool at the last position.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ContactSheetError } from '../../shared/errors';

export interface ClipEncoding {
  /** BOS, the kept content tokens, EOS. */
  ids: BigInt64Array;
  /** All ones, same length as `ids` (no padding). */
  attentionMask: BigInt64Array;
  length: number;
  /** True when the prompt had more content tokens than fit. */
  truncated: boolean;
  /** Decoded text of the content tokens that were kept: what the model actually scored. */
  scoredText: string;
  /** Tokens of the whole prompt, BOS and EOS included (before truncation). */
  tokenCount: number;
}

const BOS_CONTENT = '<|startoftext|>';
const EOS_CONTENT = '<|endoftext|>';

export class ClipTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly bosId: number,
    readonly eosId: number,
    private readonly specialIds: ReadonlySet<number>,
  ) {}

  static async load(tokenizerJsonPath: string): Promise<ClipTokenizer> {
    let text: string;
    try {
      text = await readFile(tokenizerJsonPath, 'utf8');
    } catch (e) {
      throw new ContactSheetError('model-missing', `Cannot read the CLIP tokenizer at ${tokenizerJsonPath}.`, {
        action: 'Download the scoring models again (contact-sheet models download).',
        cause: e,
      });
    }
    return ClipTokenizer.fromJson(parseJson(text, tokenizerJsonPath), tokenizerJsonPath);
  }

  /** Builds from an already parsed tokenizer.json (`source` names it in errors). */
  static fromJson(json: unknown, source = 'tokenizer.json'): ClipTokenizer {
    const formatError = (why: string, cause?: unknown) =>
      new ContactSheetError('model-format', `${source} is not a CLIP tokenizer: ${why}.`, {
        action: 'Delete the cached model folder and download the scoring models again.',
        ...(cause === undefined ? {} : { cause }),
      });
    if (!isRecord(json) || !isRecord(json.model) || json.model.type !== 'BPE') throw formatError('no BPE model');
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, {});
    } catch (e) {
      throw formatError('the tokenizer library rejected it', e);
    }
    const bosId = specialTokenId(json, 'cls', BOS_CONTENT, tokenizer);
    const eosId = specialTokenId(json, 'sep', EOS_CONTENT, tokenizer);
    if (bosId === undefined || eosId === undefined) throw formatError(`missing ${BOS_CONTENT} or ${EOS_CONTENT}`);
    const specialIds = new Set<number>([bosId, eosId]);
    if (Array.isArray(json.added_tokens)) {
      for (const t of json.added_tokens) if (isRecord(t) && t.special === true && typeof t.id === 'number') specialIds.add(t.id);
    }
    return new ClipTokenizer(tokenizer, bosId, eosId, specialIds);
  }

  encode(text: string, maxLength = 77): ClipEncoding {
    if (!Number.isInteger(maxLength) || maxLength < 3) {
      throw new ContactSheetError('internal', `CLIP maxLength must be an integer ≥ 3, got ${maxLength}.`);
    }
    // Special tokens are added here, not by the library, so they are never doubled. Special
    // tokens typed inside the prompt are dropped: a stray EOS mid-sequence would move the pooling
    // position of towers that pool at the first EOS.
    const content = this.tokenizer
      .encode(text, { add_special_tokens: false })
      .ids.filter((id) => !this.specialIds.has(id));
    const room = maxLength - 2;
    const kept = content.slice(0, room);
    const ids = BigInt64Array.from([this.bosId, ...kept, this.eosId], (id) => BigInt(id));
    return {
      ids,
      attentionMask: new BigInt64Array(ids.length).fill(1n),
      length: ids.length,
      truncated: content.length > room,
      scoredText: kept.length === 0 ? '' : this.tokenizer.decode(kept, { skip_special_tokens: true }).trim(),
      tokenCount: content.length + 2,
    };
  }
}

/** The id of BOS/EOS as the post-processor adds it, else as the vocabulary spells it. */
function specialTokenId(
  json: Record<string, unknown>,
  postProcessorKey: 'cls' | 'sep',
  content: string,
  tokenizer: Tokenizer,
): number | undefined {
  const post = json.post_processor;
  if (isRecord(post)) {
    const pair = post[postProcessorKey];
    if (Array.isArray(pair) && typeof pair[1] === 'number') return pair[1];
  }
  return tokenizer.token_to_id(content);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ContactSheetError('model-format', `${source} is not valid JSON.`, {
      action: 'Delete the cached model folder and download the scoring models again.',
      cause: e,
    });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
