/**
 * One run per key at a time: a second caller while it runs gets the same
 * promise instead of starting another (an erasure job driven by a request and
 * by the alarm at once must not walk its rooms twice in parallel).
 */
export class SingleFlight<K, V> {
  private readonly running = new Map<K, Promise<V>>();

  run(key: K, fn: () => Promise<V>): Promise<V> {
    let p = this.running.get(key);
    if (!p) {
      p = fn().finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    return p;
  }
}
