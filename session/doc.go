// Package session runs a test plan: the workspace falsify is confined to,
// sessions and runs, the durable journal, history ingest, the fault ledger,
// the verdict engine of SPEC §6 and the findings it writes.
package session
