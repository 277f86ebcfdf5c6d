// Removes what kube-proxy, the kubelet and the portmap plugin leave in iptables (both families):
// the KUBE-* and CNI-* chains, the rules in built-in chains that jump to them, iptables-nft's
// tables that did not exist before, and kube-proxy's nfacct counters.
import type { HostSnapshot } from './host.ts';
import { nfacctNames, sh } from './host.ts';

const OURS = /^(KUBE-|CNI-)/;

function removeChains(family: 'iptables' | 'ip6tables'): void {
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const saved = sh(`${family}-save`, ['-t', table], { allowFail: true }).split('\n');
    const chains = saved.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0] ?? '').filter((c) => OURS.test(c));
    if (!chains.length && !saved.some((l) => / -j (KUBE-|CNI-)/.test(l))) continue;
    // Deletes in built-in (or other) chains first, then flush, then delete: iptables-restore
    // --noflush parses the quoting of iptables-save's own output.
    const deletes = saved.filter((l) => l.startsWith('-A ') && !OURS.test(l.split(' ')[1] ?? '') && / -j (KUBE-|CNI-)/.test(l))
      .map((l) => '-D' + l.slice(2));
    const script = [`*${table}`, ...deletes, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    sh(`${family}-restore`, ['-w', '--noflush'], { input: script });
  }
}

export function cleanNetfilter(before: HostSnapshot): void {
  removeChains('iptables');
  removeChains('ip6tables');
  // iptables-nft leaves the tables it created (now empty) behind; drop those that are new.
  for (const line of sh('nft', ['list', 'tables'], { allowFail: true }).split('\n').filter(Boolean)) {
    if (before.nftTables.includes(line)) continue;
    const [, family, name] = line.split(' ');
    if (!family || !name) continue;
    const body = sh('nft', ['list', 'table', family, name], { allowFail: true });
    const hasRules = body.split('\n').some((l) => {
      const t = l.trim();
      return t && !/^(table|chain|type|policy|\}|flags)/.test(t) && !/^type .* hook /.test(t);
    });
    if (!hasRules) sh('nft', ['delete', 'table', family, name], { allowFail: true });
  }
  for (const name of nfacctNames()) if (!before.nfacct.includes(name)) sh('nfacct', ['del', name], { allowFail: true });
}
