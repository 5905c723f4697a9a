// The web UI's one stylesheet and one enhancement script, served by Kura under content-hashed names.
import { createHash } from 'node:crypto';

const LIGHT = `--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--accent:#0a58ca;
--danger:#b42318;--bar:#3b6fd8;--bar2:#8250df;--ok:#1a7f37`;
const DARK = `--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#3d444d;--panel:#161b22;--accent:#58a6ff;
--danger:#ff7b72;--bar:#4c8dff;--bar2:#b28cff;--ok:#3fb950`;

export const CSS = `:root{${LIGHT};color-scheme:light}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){${DARK};color-scheme:dark}}
:root[data-theme=dark]{${DARK};color-scheme:dark}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--accent)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--panel);border:1px solid var(--line);padding:.75rem;overflow:auto;max-height:32rem}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:var(--bg);padding:.25rem}
header.top{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;padding:.5rem 1rem;
border-bottom:1px solid var(--line);background:var(--panel)}
header.top .brand{font-weight:700;color:var(--fg);text-decoration:none}
header.top nav ul{display:flex;gap:.9rem;list-style:none;margin:0;padding:0}
header.top nav a[aria-current=page]{font-weight:700;color:var(--fg)}
header.top .who{margin-left:auto;display:flex;gap:.75rem;align-items:center}
main{padding:1rem;max-width:1200px}
h1{font-size:1.4rem;margin:.25rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:var(--panel)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.group td{border-top:2px solid var(--line)}
.muted{color:var(--muted)}
.badge,.tags td:nth-child(2)>span{display:inline-block;border:1px solid var(--line);border-radius:4px;
padding:0 .35rem;font-size:12px;margin-right:.25rem}
.warn{color:var(--danger)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.75rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;background:var(--panel)}
.card b{display:block;font-size:1.3rem}
form.inline{display:inline}
fieldset{border:1px solid var(--line);border-radius:4px;display:flex;gap:.5rem;margin:0;padding:0 .5rem .2rem}
form.bar{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end;margin:.5rem 0}
label{display:inline-flex;flex-direction:column;gap:.15rem;font-size:13px}
input,select,button{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:4px;
padding:.25rem .5rem}
button{cursor:pointer;background:var(--panel)}
button.danger,button[form=del]{color:var(--danger);border-color:var(--danger)}
td>label{flex-direction:row;align-items:center;gap:.4rem;font-size:inherit}
.tags td:nth-child(3){text-align:right;white-space:nowrap}
.tags td:nth-child(4){font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.pager{display:flex;gap:1rem;margin:.5rem 0}
.error{border:1px solid var(--danger);color:var(--danger);padding:.5rem .75rem;border-radius:4px}
svg.chart text{fill:var(--fg);font-size:11px}svg.chart .b{fill:var(--bar)}svg.chart .b2{fill:var(--bar2)}
svg.chart .track{fill:var(--panel);stroke:var(--line)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
.copy{margin-left:.25rem;font-size:12px;padding:0 .3rem}
`;

export const JS = `// Kura UI enhancements: copy buttons. Every page works without this script.
document.addEventListener('click', function (e) {
  var t = e.target;
  if (!(t instanceof HTMLElement) || !t.dataset.copy) return;
  navigator.clipboard.writeText(t.dataset.copy).then(function () {
    var old = t.textContent;
    t.textContent = 'copied';
    setTimeout(function () { t.textContent = old; }, 1200);
  });
});
document.querySelectorAll('[data-copy]').forEach(function (b) { b.hidden = false; });
`;

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

/** URL paths of the assets (their content hash in the name, so they are cached for good). */
export const ASSETS = {
  css: `/ui/assets/kura-${hash(CSS)}.css`,
  js: `/ui/assets/kura-${hash(JS)}.js`,
};
