// Package nemesis injects real faults into registered targets and proves
// that they landed (SPEC §5).
//
// A fault kind is a struct of functions, in the manner of porcupine's
// models: Check validates a fault before anything is touched, Baseline reads
// the state the fault will change, Apply injects it, Probe measures the
// change from the baseline, Heal undoes it and HealProbe measures the
// recovery. Evidence is read from the kernel (/proc, nftables counters,
// statfs), from an active probe that crosses the fault (a TCP round trip
// through a proxy, a write into a full filesystem), or from a file the
// target wrote: never from the injector's own "ok".
//
// A Nemesis owns everything it creates: the processes it starts, the
// embedded Toxiproxy proxies in front of address targets, the nftables
// table falsify_<owner>, fill files. Every object is named for its owner,
// every fault has a TTL enforced by a watchdog, and a fault left behind by
// a crashed process is healed by HealOrphans from the Record the caller
// journaled before applying it (Prepare, journal, Apply).
package nemesis
