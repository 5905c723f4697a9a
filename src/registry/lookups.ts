/** The in-process cache of manifest and tag lookups, never stale (see RegistryOptions.cacheLookups). */

export class LookupCache {
  /** `kind\0repo\0reference` → value; cleared on every manifest or tag change. */
  private readonly map = new Map<string, object>();
  /** Bumped around every change, so a lookup that raced with a change is not cached. */
  private generation = 0;

  constructor(private readonly enabled: boolean) {}

  /**
   * A metadata read through the cache. Null results are not cached, and a read that overlapped a
   * change (the generation moved) is not either, so the cache is never stale.
   */
  async get<T extends object>(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const hit = this.map.get(key);
    if (hit) return hit as T;
    const generation = this.generation;
    const value = await load();
    if (value !== null && this.enabled && generation === this.generation) {
      if (this.map.size >= 10_000) this.map.clear();
      this.map.set(key, value);
    }
    return value;
  }

  /** How many changes of manifests or tags this process has seen (it moves on every change, cached or not). */
  get changes(): number {
    return this.generation;
  }

  /** Call before and after every change of manifests or tags. */
  invalidate(): void {
    this.generation++;
    this.map.clear();
  }
}
