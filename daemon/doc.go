// Package daemon is faced's composition root: it joins the watcher, the
// persistent work queue of the index, the analysis workers, the clusterer and
// the sidecar exporter into one long-running process, serves the local API
// and adapts all of it to an OS service manager.
//
// Concurrency: one coordinator goroutine is the only writer of the index; it
// leases jobs from the persistent queue into a bounded channel read by the
// analysis workers (CPU-bound, Options.Workers of them), applies their
// results, and after each batch runs clustering and exports the sidecars of
// changed files. Reconciliation (the tree against the index) and watcher
// events are turned into write operations by a separate goroutine that only
// reads the index.
//
// The package holds no SQL, no inference and no XMP code: it talks to those
// through the small interfaces in ports.go.
package daemon
