import bcrypt from 'bcryptjs';

/** Runs in a worker thread (see passwords.ts): one bcrypt comparison, off the event loop. */
export default function compare({ password, hash }: { password: string; hash: string }): Promise<boolean> {
  return bcrypt.compare(password, hash);
}
