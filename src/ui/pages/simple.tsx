// Small pages: the confirmation of a destructive action, sign-in, and errors.
import type { ComponentChildren } from 'preact';
import type { Ctx } from '../context.js';
import { Csrf, Page } from '../layout.js';

export interface ConfirmData {
  title: string;
  action: string;
  /** Form fields carried over (each name may repeat). */
  fields: [string, string][];
  button: string;
  cancel: string;
  children: ComponentChildren;
}

/** "Are you sure": what will happen, in words, then one button that does it (with confirm=yes). */
export function Confirm({ ctx, data }: { ctx: Ctx; data: ConfirmData }) {
  return (
    <Page ctx={ctx} title={data.title}>
      {data.children}
      <form method="post" action={data.action} class="bar">
        <Csrf ctx={ctx} />
        <input type="hidden" name="confirm" value="yes" />
        {data.fields.map(([k, v], i) => (
          <input key={i} type="hidden" name={k} value={v} />
        ))}
        <button type="submit" class="danger">
          {data.button}
        </button>
        <a href={data.cancel}>Cancel</a>
      </form>
    </Page>
  );
}

export function Login({ ctx, error, back }: { ctx: Ctx; error: string | null; back: string }) {
  return (
    <Page ctx={ctx} title="Sign in">
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <form method="post" action="/ui/login" class="bar">
        <Csrf ctx={ctx} />
        <input type="hidden" name="back" value={back} />
        <label>
          User name
          <input name="user" autocomplete="username" required />
        </label>
        <label>
          Password or robot secret
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The same accounts as `docker login` to this registry (htpasswd file or Kura accounts).</p>
    </Page>
  );
}

export function ErrorPage({ ctx, title, message }: { ctx: Ctx; title: string; message: string }) {
  return (
    <Page ctx={ctx} title={title}>
      <p class="error" role="alert">
        {message}
      </p>
      <p>
        <a href="/ui">Back to the dashboard</a>
      </p>
    </Page>
  );
}
