/**
 * The VQAScore question and the SmolVLM (Idefics3) chat prompt it is asked in.
 *
 * The question is the original VQAScore/t2v_metrics template with "yes or no" in lower case, as the
 * project's scoring table states it. It goes through SmolVLM's published chat template
 * (chat_template.json) with the generation prompt:
 *   "<|im_start|>" + "User" + ":" (the first content item is the image, so no space)
 *   + "<image>" + question + "<end_of_utterance>\n" + "Assistant:"
 * and the Idefics3 processor then replaces the one "<image>" with the single-image expansion
 * (image splitting off): "<fake_token_around_image><global-img>" + "<image>" × image_seq_len +
 * "<fake_token_around_image>".
 */

export const IMAGE_TOKEN = '<image>';
export const FAKE_TOKEN_AROUND_IMAGE = '<fake_token_around_image>';
export const GLOBAL_IMAGE_TOKEN = '<global-img>';
export const CHAT_START_TOKEN = '<|im_start|>';
export const END_OF_UTTERANCE_TOKEN = '<end_of_utterance>';

/** Special tokens the prompt needs; a tokenizer without any of them cannot score. */
export const REQUIRED_SPECIAL_TOKENS: readonly string[] = [
  CHAT_START_TOKEN,
  END_OF_UTTERANCE_TOKEN,
  IMAGE_TOKEN,
  FAKE_TOKEN_AROUND_IMAGE,
  GLOBAL_IMAGE_TOKEN,
];

/** The VQAScore question for a prompt (t2v_metrics template). */
export function vqaQuestion(prompt: string): string {
  return `Does this figure show "${prompt}"? Please answer yes or no.`;
}

/** The chat template applied to one user turn [image, text] with the generation prompt. */
export function chatTemplateText(question: string): string {
  return `${CHAT_START_TOKEN}User:${IMAGE_TOKEN}${question}${END_OF_UTTERANCE_TOKEN}\nAssistant:`;
}

/** What the processor puts in place of one "<image>" when the image is not split. */
export function singleImageExpansion(imageSeqLen: number): string {
  return `${FAKE_TOKEN_AROUND_IMAGE}${GLOBAL_IMAGE_TOKEN}${IMAGE_TOKEN.repeat(imageSeqLen)}${FAKE_TOKEN_AROUND_IMAGE}`;
}

/**
 * The full text the tokenizer sees: chat template, then the one "<image>" expanded. Special-token
 * strings inside the user's prompt are removed first: the tokenizer would otherwise turn a literal
 * "<image>" in a prompt into an extra image slot (or an end of turn) and break the prompt's shape.
 */
export function vqaPromptText(prompt: string, imageSeqLen: number): string {
  const templated = chatTemplateText(vqaQuestion(withoutSpecialTokens(prompt)));
  const [before, after] = splitOnce(templated, IMAGE_TOKEN);
  return before + singleImageExpansion(imageSeqLen) + after;
}

export function withoutSpecialTokens(prompt: string): string {
  let out = prompt;
  for (const token of REQUIRED_SPECIAL_TOKENS) out = out.split(token).join('');
  return out;
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return [text.slice(0, at), text.slice(at + separator.length)];
}
