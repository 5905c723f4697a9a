/** Single-flight: concurrent callers of one key share one running call (one upstream request per manifest or blob). */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** The call running for `key`, else a new one; it is forgotten once it settles. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current) return current;
    const p = fn().finally(() => this.forget(key, p));
    this.running.set(key, p);
    return p;
  }

  /** The call running for `key`, if any. */
  get(key: string): Promise<T> | undefined {
    return this.running.get(key);
  }

  /** Registers a call started elsewhere, so that later callers wait for it. */
  set(key: string, p: Promise<T>): void {
    this.running.set(key, p);
    p.then(
      () => this.forget(key, p),
      () => this.forget(key, p),
    );
  }

  private forget(key: string, p: Promise<T>): void {
    if (this.running.get(key) === p) this.running.delete(key);
  }

  /** Resolves once every call running now has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  get size(): number {
    return this.running.size;
  }
}
