// A small markdown renderer that builds Preact nodes and never produces HTML strings: text
// stays text (Preact sets it with textContent), so a message cannot inject markup. Links are
// http(s) or mailto only and open in a new tab with rel="noopener noreferrer".
//
// Supported: ```code blocks```, `code`, **bold**, *italic* / _italic_, ~~strike~~,
// [text](url), bare http(s) URLs, "> " quotes, line breaks, @mentions of `me`.
import { h } from '../vendor/htm-preact-standalone.js';

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

export function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return SAFE_URL.test(u.href) ? u.href : null;
  } catch {
    return null;
  }
}

function link(href, children, key) {
  const url = safeUrl(href);
  if (!url) return children;
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', key }, children);
}

// Inline rules, tried at each position in order; each returns [node, length] or null.
const INLINE = [
  [/^`([^`\n]+)`/, (m, k) => h('code', { key: k }, m[1])],
  [/^\*\*([^*\n]+?)\*\*/, (m, k, me) => h('strong', { key: k }, inline(m[1], me))],
  [/^~~([^~\n]+?)~~/, (m, k, me) => h('del', { key: k }, inline(m[1], me))],
  [/^\*([^*\s][^*\n]*?)\*/, (m, k, me) => h('em', { key: k }, inline(m[1], me))],
  [/^_([^_\s][^_\n]*?)_(?![A-Za-z0-9])/, (m, k, me) => h('em', { key: k }, inline(m[1], me))],
  [/^\[([^\]\n]+)\]\(([^)\s]+)\)/, (m, k, me) => link(m[2], inline(m[1], me), k)],
  [/^https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/, (m, k) => link(m[0], m[0], k)],
  [/^@([a-z0-9_]{3,20}(?:@[A-Za-z0-9.:-]+)?)/i, (m, k, me) =>
    h('span', { key: k, class: me && m[1].split('@')[0].toLowerCase() === me ? 'mention me' : 'mention' }, m[0])],
];

export function inline(text, me) {
  const out = [];
  let plain = '';
  let i = 0;
  let key = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const prev = i > 0 ? text[i - 1] : ' ';
    let hit = null;
    // Rules only start after a non-word character (so snake_case stays text).
    if (!/[A-Za-z0-9]/.test(prev) || rest[0] === '`' || rest[0] === '*' || rest[0] === '~') {
      for (const [re, make] of INLINE) {
        const m = re.exec(rest);
        if (m) {
          hit = [make(m, key++, me), m[0].length];
          break;
        }
      }
    }
    if (hit) {
      if (plain) out.push(plain);
      plain = '';
      out.push(hit[0]);
      i += hit[1];
    } else if (text[i] === '\n') {
      if (plain) out.push(plain);
      plain = '';
      out.push(h('br', { key: key++ }));
      i += 1;
    } else {
      plain += text[i];
      i += 1;
    }
  }
  if (plain) out.push(plain);
  return out;
}

// Block level: fenced code, quotes, paragraphs.
export function render(text, me) {
  const blocks = [];
  const lines = text.split('\n');
  let para = [];
  let key = 0;
  const flush = () => {
    if (para.length) blocks.push(h('p', { key: key++ }, inline(para.join('\n'), me)));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) code.push(lines[i++]);
      blocks.push(h('pre', { key: key++ }, h('code', null, code.join('\n'))));
    } else if (line.startsWith('>')) {
      flush();
      const quote = [];
      while (i < lines.length && lines[i].startsWith('>')) quote.push(lines[i++].replace(/^> ?/, ''));
      i--;
      blocks.push(h('blockquote', { key: key++ }, inline(quote.join('\n'), me)));
    } else {
      para.push(line);
    }
  }
  flush();
  return blocks;
}

// Whether a body mentions `me` (a nick), like the server's rule: "@nick" or the bare nick.
export function mentions(body, me) {
  if (!me || !body) return false;
  const re = new RegExp(`(^|[^a-z0-9_])@?${me}(?![a-z0-9_])`, 'i');
  return re.test(body);
}
