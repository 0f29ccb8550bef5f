// The namespace network of `npm run interop:nat` (interop/NAT.md "Topology"): a WAN bridge on
// 11.0.0.0/24 that exists only inside this run's namespaces, two NAT routers (rA, rB) with a peer
// behind each, a relay, three AutoNAT servers, a public client, a third NAT router (rC) with a
// client behind it, and a victim whose input chain counts and drops every SYN.
//
// Every namespace is named `<prefix>-<name>`; the prefix is unique per run (pid), so concurrent runs
// never meet. `up()` builds it, `down()` removes every namespace (their veths go with them).
// The nftables texts are pure functions (unit-tested in test/interop-nat.test.ts).
import { execFileSync } from 'node:child_process'

export const WAN = '11.0.0'

/** Namespace → its role in the topology. Addresses: see HOSTS. */
export const NAMES = /** @type {const} */ (['wan', 'relay', 'rA', 'rB', 'a', 'b', 'sgo', 'srust', 'sweft', 'cpub', 'rC', 'cnat', 'victim'])

/**
 * Where each peer role runs: namespace and the IP it listens on (LISTEN_IP).
 * a/b sit behind rA/rB; cnat behind rC; the others are on the WAN.
 */
export const HOSTS = /** @type {const} */ ({
  relay: { ns: 'relay', ip: `${WAN}.10` },
  a: { ns: 'a', ip: '10.0.1.2' },
  b: { ns: 'b', ip: '10.0.2.2' },
  sgo: { ns: 'sgo', ip: `${WAN}.21` },
  srust: { ns: 'srust', ip: `${WAN}.22` },
  sweft: { ns: 'sweft', ip: `${WAN}.23` },
  cpub: { ns: 'cpub', ip: `${WAN}.30` },
  cnat: { ns: 'cnat', ip: '10.0.3.2' },
  victim: { ns: 'victim', ip: `${WAN}.99` },
})

/** The NAT routers: WAN address, LAN gateway, LAN prefix, the host behind it, and the other punching router. */
export const ROUTERS = /** @type {const} */ ({
  rA: { wan: `${WAN}.1`, lan: '10.0.1.1', net: '10.0.1.0/24', host: 'a', peerRouter: `${WAN}.2`, unsolicited: 'drop' },
  rB: { wan: `${WAN}.2`, lan: '10.0.2.1', net: '10.0.2.0/24', host: 'b', peerRouter: `${WAN}.1`, unsolicited: 'drop' },
  rC: { wan: `${WAN}.31`, lan: '10.0.3.1', net: '10.0.3.0/24', host: 'cnat', peerRouter: undefined, unsolicited: 'reset' },
})

/** WAN hosts without NAT: namespace → address (the veth inside is `wan0`). */
const WAN_HOSTS = { relay: HOSTS.relay.ip, sgo: HOSTS.sgo.ip, srust: HOSTS.srust.ip, sweft: HOSTS.sweft.ip, cpub: HOSTS.cpub.ip, victim: HOSTS.victim.ip }

/**
 * A NAT router's ruleset (nft 1.0.6 syntax: every statement on its own line).
 * - postrouting: port-preserving masquerade of the LAN out of wan0 (conntrack: address-and-port-dependent filtering);
 * - input: from wan0 only established/related (TCP and UDP alike: conntrack tracks both); the rest, TCP,
 *   UDP or other, is counted ("unsolicited") and dropped (rA, rB: a RST would kill a hole punch whose first
 *   SYN arrives early) or, TCP only, answered with a TCP reset (rC: an AutoNAT dial-back to the NAT'd
 *   client then fails at once instead of after a 15 s connect timeout; other unsolicited packets are
 *   counted as "unsolicited-other" and dropped);
 * - forward: policy drop; LAN → WAN, established/related; the "directsyn" counter (research note §2.7
 *   assertion 4) counts SYNs from the other punching router forwarded into the LAN: a direct SYN from the
 *   other peer reached ours through its own NAT mapping. "directudp" is its QUIC counterpart: UDP
 *   datagrams from the other punching router forwarded into the LAN (only a mapping our peer opened
 *   toward that router lets them in; a QUIC handshake needs them on both routers).
 * @param {{ net: string, peerRouter?: string, unsolicited: 'drop' | 'reset' }} r
 */
export function routerRuleset(r) {
  const drop = r.unsolicited === 'reset'
    ? 'iifname "wan0" meta l4proto tcp counter reject with tcp reset comment "unsolicited"\n    iifname "wan0" counter drop comment "unsolicited-other"'
    : 'iifname "wan0" counter drop comment "unsolicited"'
  const directSyn = r.peerRouter === undefined
    ? ''
    : `iifname "wan0" ip saddr ${r.peerRouter} tcp flags & (syn | ack) == syn counter comment "directsyn"\n    ` +
      `iifname "wan0" ip saddr ${r.peerRouter} meta l4proto udp counter comment "directudp"\n    `
  return `${natRuleset(r.net, '')}table inet fw {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state established,related accept
    ${drop}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ${directSyn}ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    iifname "wan0" counter drop comment "forwarddrop"
  }
}
`
}

/**
 * The NAT table alone (flushed first, so applying it again replaces the rule): masquerade out of wan0,
 * port-preserving, or with `random` / `fully-random` port mapping.
 * @param {string} net @param {'' | 'random' | 'fully-random'} flags
 */
export function natRuleset(net, flags) {
  return `table ip nat
flush table ip nat
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr ${net} masquerade${flags === '' ? '' : ` ${flags}`}
  }
}
`
}

/** The victim's ruleset: every incoming TCP SYN is counted ("syn") and dropped. */
export function victimRuleset() {
  return `table inet fw {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp flags & (syn | ack) == syn counter drop comment "syn"
  }
}
`
}

/**
 * The packet count of the counter with `comment` in `nft list table inet fw` output.
 * @param {string} text @param {string} comment
 */
export function parseCounter(text, comment) {
  const m = new RegExp(`counter packets (\\d+) bytes \\d+[^\\n]* comment "${comment}"`).exec(text)
  if (m === null) throw new Error(`no counter "${comment}" in:\n${text}`)
  return Number(m[1])
}

/** Why the namespace suite cannot run here (not root, no `ip netns`, no nft), or undefined. @param {string} prefix */
export function natUnavailable(prefix) {
  if (process.getuid?.() !== 0) return 'not root (network namespaces and nftables need root)'
  const probe = `${prefix}-probe`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' })
  } catch (e) {
    return `ip netns unavailable (${firstLine(e)})`
  }
  try {
    execFileSync('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', 't'], { stdio: 'pipe' })
  } catch (e) {
    return `nft unavailable (${firstLine(e)}); apt-get install nftables`
  } finally {
    try { execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' }) } catch { /* gone */ }
  }
  return undefined
}

/** @param {unknown} e */
const firstLine = (e) => (e instanceof Error ? e.message.split('\n')[0] : String(e))

/**
 * A prefix no namespace of this machine uses: `wn<pid>` (unique among running processes; only
 * namespace names carry it, interface names inside the namespaces are fixed), with a suffix when
 * namespaces a killed run of an earlier process with the same pid left behind exist.
 */
export function runPrefix() {
  const existing = listNamespaces()
  for (let i = 0; ; i++) {
    const p = i === 0 ? `wn${process.pid}` : `wn${process.pid}x${i}`
    if (!existing.some((n) => n.startsWith(`${p}-`))) return p
  }
}

function listNamespaces() {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean)
  } catch {
    return []
  }
}

/** The topology of one run. */
export class NatTopology {
  /** @param {string} prefix */
  constructor(prefix) {
    this.prefix = prefix
    /** @type {Record<(typeof NAMES)[number], string>} */
    this.ns = /** @type {any} */ (Object.fromEntries(NAMES.map((n) => [n, `${prefix}-${n}`])))
    /** @type {string[]} namespaces created so far (down() removes them) */
    this.created = []
  }

  /** @param {...string} args */
  ip(...args) {
    execFileSync('ip', args, { stdio: 'pipe' })
  }

  /** Run `cmd args` in namespace `name` (a NAMES entry); its stdout. @param {string} name @param {string} cmd @param {string[]} args @param {string} [input] */
  exec(name, cmd, args, input) {
    return execFileSync('ip', ['netns', 'exec', this.ns[/** @type {keyof NatTopology['ns']} */ (name)], cmd, ...args], { stdio: 'pipe', input, encoding: 'utf8' })
  }

  up() {
    const ns = this.ns
    for (const n of NAMES) {
      this.ip('netns', 'add', ns[n])
      this.created.push(ns[n])
      this.ip('-n', ns[n], 'link', 'set', 'lo', 'up')
    }
    this.ip('-n', ns.wan, 'link', 'add', 'br0', 'type', 'bridge')
    this.ip('-n', ns.wan, 'link', 'set', 'br0', 'up')
    /** Plug namespace `n` into the bridge with wan0 = addr. @param {keyof typeof ns} n @param {string} addr */
    const plug = (n, addr) => {
      const port = `p-${n}`
      this.ip('link', 'add', 'wan0', 'netns', ns[n], 'type', 'veth', 'peer', 'name', port, 'netns', ns.wan)
      this.ip('-n', ns.wan, 'link', 'set', port, 'master', 'br0', 'up')
      this.ip('-n', ns[n], 'addr', 'add', `${addr}/24`, 'dev', 'wan0')
      this.ip('-n', ns[n], 'link', 'set', 'wan0', 'up')
    }
    for (const [n, addr] of Object.entries(WAN_HOSTS)) plug(/** @type {any} */ (n), addr)
    for (const [r, c] of Object.entries(ROUTERS)) {
      const rn = /** @type {keyof typeof ROUTERS} */ (r)
      plug(rn, c.wan)
      this.ip('link', 'add', 'lan0', 'netns', ns[rn], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns[c.host])
      this.ip('-n', ns[rn], 'addr', 'add', `${c.lan}/24`, 'dev', 'lan0')
      this.ip('-n', ns[rn], 'link', 'set', 'lan0', 'up')
      this.exec(rn, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0'])
      this.exec(rn, 'nft', ['-f', '-'], routerRuleset(c))
      this.ip('-n', ns[c.host], 'addr', 'add', `${HOSTS[c.host].ip}/24`, 'dev', 'eth0')
      this.ip('-n', ns[c.host], 'link', 'set', 'eth0', 'up')
      this.ip('-n', ns[c.host], 'route', 'add', 'default', 'via', c.lan)
    }
    this.exec('victim', 'nft', ['-f', '-'], victimRuleset())
  }

  /**
   * Self-check of the counters the verdicts rely on: a SYN from cpub to the victim must move the
   * victim's counter (so "0 SYNs" in the amplification cases means something). Throws when it does not.
   */
  async checkVictimCounter() {
    const before = this.counter('victim', 'syn')
    this.exec('cpub', process.execPath, ['-e', `require('net').connect(4001, '${HOSTS.victim.ip}').on('error', () => {}); setTimeout(() => process.exit(0), 200)`])
    for (let i = 0; i < 50; i++) {
      if (this.counter('victim', 'syn') > before) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error('a SYN sent to the victim did not move its counter')
  }

  /** Remove every namespace this run created. Never throws. */
  down() {
    for (const n of this.created.splice(0).reverse()) {
      try { this.ip('netns', 'del', n) } catch { /* already gone */ }
    }
  }

  /**
   * Replace router `r`'s masquerade rule: flags '' (port-preserving) or 'fully-random' (every
   * connection gets a random port: a symmetric NAT, hole punching must fail).
   * @param {'rA' | 'rB' | 'rC'} r @param {'' | 'random' | 'fully-random'} flags
   */
  setNatFlags(r, flags) {
    this.exec(r, 'nft', ['-f', '-'], natRuleset(ROUTERS[r].net, flags))
  }

  /** A counter of namespace `name`'s `inet fw` table. @param {string} name @param {string} comment */
  counter(name, comment) {
    return parseCounter(this.exec(name, 'nft', ['list', 'table', 'inet', 'fw']), comment)
  }

  /** The direct-SYN counters of rA and rB. */
  directSyn() {
    return { rA: this.counter('rA', 'directsyn'), rB: this.counter('rB', 'directsyn') }
  }

  /** The direct-UDP counters of rA and rB (datagrams from the other router forwarded into the LAN). */
  directUdp() {
    return { rA: this.counter('rA', 'directudp'), rB: this.counter('rB', 'directudp') }
  }
}
