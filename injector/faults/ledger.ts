// A bounded ring of recent decisions, readable through the control API: which request met which
// fault and what happened. Replaying a seed reproduces the same ledger.
export interface LedgerEntry {
  time: string;
  requestId: string;
  faultId: string;
  kind: string;
  operation: string;
  decision: 'fired' | 'skipped';
}

export class Ledger {
  #entries: LedgerEntry[] = [];
  #next = 0;
  #size: number;

  constructor(size = 1000) {
    this.#size = size;
  }

  add(e: LedgerEntry): void {
    if (this.#entries.length < this.#size) this.#entries.push(e);
    else this.#entries[this.#next] = e;
    this.#next = (this.#next + 1) % this.#size;
  }

  /** Oldest first; optionally only one fault's entries and at most `limit` of the newest. */
  entries(opts: { faultId?: string; limit?: number } = {}): LedgerEntry[] {
    const ordered = this.#entries.length < this.#size ? [...this.#entries] : [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
    const f = opts.faultId ? ordered.filter((e) => e.faultId === opts.faultId) : ordered;
    return opts.limit !== undefined ? f.slice(-opts.limit) : f;
  }

  clear(): void {
    this.#entries = [];
    this.#next = 0;
  }
}
