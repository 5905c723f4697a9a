// The web UI's page shell: landmarks, navigation, theme switch, the one stylesheet and script.
import type { ComponentChildren } from 'preact';
import { ASSETS } from './assets.js';
import type { Ctx, Theme } from './context.js';

const NAV: [string, string, (c: Ctx) => boolean][] = [
  ['/ui', 'Dashboard', () => true],
  ['/ui/repos', 'Repositories', () => true],
  ['/ui/usage', 'Usage', (c) => c.viewer.adminRead],
  ['/ui/policies', 'Retention', (c) => c.viewer.adminRead],
  ['/ui/gc', 'GC', (c) => c.viewer.adminRead],
  ['/ui/audit', 'Audit', (c) => c.viewer.adminRead],
  ['/ui/tokens', 'Tokens', (c) => c.viewer.name !== null],
];

const NEXT_THEME: Record<Theme, Theme> = { auto: 'light', light: 'dark', dark: 'auto' };

/** The hidden CSRF field every form carries. */
export function Csrf({ ctx }: { ctx: Ctx }) {
  return <input type="hidden" name="csrf" value={ctx.csrf} />;
}

export function Page(props: { ctx: Ctx; title: string; section?: string; children: ComponentChildren }) {
  const { ctx } = props;
  const next = NEXT_THEME[ctx.theme];
  return (
    <html lang="en" data-theme={ctx.theme === 'auto' ? undefined : ctx.theme}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Kura`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={ASSETS.css} />
        <script src={ASSETS.js} defer />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/ui">
            Kura
          </a>
          <nav aria-label="Main">
            <ul>
              {NAV.filter(([, , show]) => show(ctx)).map(([href, label]) => (
                <li key={href}>
                  <a href={href} aria-current={props.section === href ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="who">
            <a href={`/ui/theme?set=${next}&back=${encodeURIComponent(ctx.path)}`}>
              {`Theme: ${ctx.theme} (switch to ${next})`}
            </a>
            {ctx.viewer.name !== null ? (
              <form class="inline" method="post" action="/ui/logout">
                <Csrf ctx={ctx} />
                <span>{ctx.viewer.name} </span>
                <button type="submit">Sign out</button>
              </form>
            ) : ctx.viewer.authEnabled ? (
              <a href="/ui/login">Sign in</a>
            ) : null}
          </div>
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A button that copies `value` (shown only with the script on). */
export function CopyButton({ value }: { value: string }) {
  return (
    <button type="button" class="copy" data-copy={value} hidden>
      copy
    </button>
  );
}

/** A short digest with a copy button (the page or a link nearby has it whole). */
export function DigestText({ digest }: { digest: string }) {
  return (
    <span class="mono">
      {digest.slice(0, 19)}
      <CopyButton value={digest} />
    </span>
  );
}
