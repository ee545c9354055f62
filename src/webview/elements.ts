/**
 * DOM building for the panel. Text always goes in through textContent (prompts, model names and
 * error messages are untrusted), never innerHTML; styles go through classes or CSSOM properties,
 * because the CSP allows no inline style attributes.
 */
export interface ElementOptions {
  className?: string;
  text?: string;
  /** Attributes (aria-*, role, title, type, …). */
  attrs?: Record<string, string>;
  /** data-testid, for tests. */
  testid?: string;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, options: ElementOptions = {}, children: (Node | string)[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  if (options.testid) node.dataset.testid = options.testid;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A codicon glyph (decorative: hidden from assistive technology). */
export function icon(name: string, extraClass = ''): HTMLSpanElement {
  return el('span', { className: `codicon codicon-${name}${extraClass ? ` ${extraClass}` : ''}`, attrs: { 'aria-hidden': 'true' } });
}

/** A toolbar-style button with only an icon: the label is its accessible name and tooltip. */
export function iconButton(iconName: string, label: string, onClick: () => void, testid?: string): HTMLButtonElement {
  const button = el('button', { className: 'icon-button', attrs: { type: 'button', 'aria-label': label, title: label }, testid }, [icon(iconName)]);
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    onClick();
  });
  return button;
}

/** A text button: `primary` (button colours) or `secondary`, optionally with a leading icon. */
export function textButton(label: string, kind: 'primary' | 'secondary', onClick: () => void, options: { icon?: string; testid?: string } = {}): HTMLButtonElement {
  const button = el('button', { className: `button button-${kind}`, attrs: { type: 'button' }, testid: options.testid });
  setButtonContent(button, label, options.icon);
  button.addEventListener('click', onClick);
  return button;
}

export function setButtonContent(button: HTMLButtonElement, label: string, iconName?: string, spin = false): void {
  const children: Node[] = [];
  if (iconName) children.push(icon(iconName, spin ? 'codicon-modifier-spin' : ''));
  children.push(el('span', { text: label }));
  button.replaceChildren(...children);
}

/** Sets the text of a node only when it changed (keeps live regions and layout quiet). */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setAttr(node: Element, name: string, value: string | null): void {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

export function prefersReducedMotion(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
}
