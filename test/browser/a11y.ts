/**
 * Small accessibility probes, run in the page as expressions (the repo's TypeScript has no DOM lib,
 * so they are plain JavaScript strings). Each evaluates to a list of problems; empty means fine.
 */

/** Visible form controls without a label (hidden inputs and buttons excepted). */
export const UNLABELLED_CONTROLS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (el.labels && el.labels.length > 0) continue;
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) continue;
    out.push(el.outerHTML.slice(0, 120));
  }
  return out;
})()`;

/** Headings: exactly one h1, and no level skipped on the way down. */
export const HEADING_PROBLEMS = `(() => {
  const hs = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => Number(h.tagName[1]));
  const out = [];
  if (hs.filter((l) => l === 1).length !== 1) out.push('h1 count ' + hs.filter((l) => l === 1).length);
  for (let i = 1; i < hs.length; i++) if (hs[i] > hs[i - 1] + 1) out.push('h' + hs[i - 1] + ' then h' + hs[i]);
  return out;
})()`;

/**
 * Text whose colour contrast with its background is under WCAG AA (4.5:1, or 3:1 for large text).
 * The background is the nearest opaque one up the tree (the page is white).
 */
export const LOW_CONTRAST = `(() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.right < 0) continue;
    const fg = parse(style.color); const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize); const bold = Number(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push(ratio.toFixed(2) + ' ' + el.tagName + ' "' + n.textContent.trim().slice(0, 40) + '"');
  }
  return out;
})()`;
