// Package api is faced's local control API: the versioned wire types of
// /v1/status, /v1/scan and /v1/retry, the HTTP handler the daemon serves over
// a unix socket, and the client facedctl uses to reach it.
//
// Every request and response carries the Faced-API-Version header; a peer
// that speaks another version is refused with a clear error rather than
// misread. The package is pure Go (no cgo) and imports nothing of the
// daemon, so facedctl can link it without the analysis stack.
package api
