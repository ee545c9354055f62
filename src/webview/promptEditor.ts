/**
 * The prompt, editable in the panel. Edits go to the host as `prompt/edit` with the full text
 * (debounced; the host applies them to the prompt's document as a normal editor edit, so undo and
 * save work there); the host's prompt/changed brings the text back with the dirty flag. While an
 * edit of ours is pending, the host's text does not overwrite what is being typed.
 */
import type { PromptView } from '../shared/protocol';
import { el, icon, iconButton, setText } from './elements';

export interface PromptEditorHandlers {
  edit(text: string): Promise<unknown>;
  save(): void;
  open(): void;
  /** Ctrl/Cmd+Enter in the prompt. */
  run(): void;
}

const EDIT_DEBOUNCE_MS = 300;

export class PromptEditor {
  readonly root: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private readonly fileButton: HTMLButtonElement;
  private readonly title = el('span', { className: 'prompt-title', testid: 'prompt-title' });
  private readonly dirty = el('span', { className: 'dirty-badge', testid: 'prompt-dirty' }, [icon('circle-filled'), el('span', { text: 'Unsaved' })]);
  private readonly saveButton: HTMLButtonElement;
  private readonly extras = el('dl', { className: 'prompt-extras', testid: 'prompt-extras' });
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private resend = false;
  /** The text the host has (its last prompt/changed, or our last edit it answered). */
  private lastSent = '';

  constructor(private readonly handlers: PromptEditorHandlers) {
    this.fileButton = el('button', { className: 'link-button', attrs: { type: 'button', title: 'Open the prompt file' }, testid: 'prompt-file' });
    this.fileButton.addEventListener('click', () => handlers.open());
    this.saveButton = iconButton('save', 'Save the prompt file (Ctrl+S)', () => void this.flush().then(() => handlers.save()), 'prompt-save');
    this.textarea = el('textarea', {
      className: 'prompt-text',
      attrs: { id: 'prompt-text', rows: '2', spellcheck: 'true', 'aria-label': 'Prompt', placeholder: 'Describe the image…' },
      testid: 'prompt-text',
    });
    this.textarea.addEventListener('input', () => this.schedule());
    this.textarea.addEventListener('blur', () => void this.flush());
    this.textarea.addEventListener('keydown', (e) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void this.flush().then(() => handlers.save());
      } else if (mod && e.key === 'Enter') {
        e.preventDefault();
        void this.flush().then(() => handlers.run());
      }
    });
    const header = el('div', { className: 'prompt-header' }, [
      el('label', { className: 'section-title', attrs: { for: 'prompt-text' } }, [icon('edit'), el('span', { text: 'Prompt' })]),
      this.fileButton,
      this.title,
      this.dirty,
      this.saveButton,
    ]);
    this.root = el('div', { className: 'prompt' }, [header, this.textarea, this.extras]);
  }

  /** Shows the host's prompt (unless our own edit is still on its way) and its dirty state. */
  show(prompt: PromptView, dirty: boolean): void {
    setText(this.fileButton, prompt.displayPath);
    setText(this.title, prompt.title ?? '');
    this.title.hidden = !prompt.title;
    this.dirty.hidden = !dirty;
    this.saveButton.hidden = !dirty;
    if (!this.busy) this.lastSent = prompt.text;
    if (!this.busy && this.textarea.value !== prompt.text) {
      const { selectionStart, selectionEnd } = this.textarea;
      const focused = document.activeElement === this.textarea;
      this.textarea.value = prompt.text;
      if (focused) this.textarea.setSelectionRange(Math.min(selectionStart, prompt.text.length), Math.min(selectionEnd, prompt.text.length));
    }
    const rows: [string, string, string | null][] = [
      ['negative', 'Negative prompt', prompt.negative],
      ['original', 'Original prompt', prompt.original],
    ];
    this.extras.replaceChildren(
      ...rows.filter(([, , value]) => value).flatMap(([id, label, value]) => [el('dt', { text: label }), el('dd', { text: value!, testid: `prompt-extras-${id}` })]),
    );
    this.extras.hidden = this.extras.childElementCount === 0;
  }

  get text(): string {
    return this.textarea.value;
  }

  /** An edit is waiting for its debounce or for the host's answer. */
  get busy(): boolean {
    return this.timer !== undefined || this.sending;
  }

  /** Sends the pending edit now; resolves when the host has answered it. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) {
      this.resend = true;
      return;
    }
    const text = this.textarea.value;
    if (text === this.lastSent) return;
    this.sending = true;
    try {
      await this.handlers.edit(text);
      this.lastSent = text;
    } catch {
      // The app reports the error; the text stays as typed.
    } finally {
      this.sending = false;
    }
    if (this.resend) {
      this.resend = false;
      await this.flush();
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), EDIT_DEBOUNCE_MS);
  }
}
