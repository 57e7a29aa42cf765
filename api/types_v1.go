package api

import "time"

// Version is the API version this package speaks. It is sent in the
// VersionHeader of every request and response.
//
// Changelog: 1 — /v1/status, /v1/scan, /v1/retry.
const Version = 1

// VersionHeader names the header that carries Version.
const VersionHeader = "Faced-API-Version"

// Status is the body of GET /v1/status.
type Status struct {
	// Running is true when the answer comes from a live daemon; facedctl
	// sets it to false when it read the index directly.
	Running bool   `json:"running"`
	Version string `json:"version"`
	PID     int    `json:"pid,omitempty"`
	// Started is when the daemon started; Uptime is the time since.
	Started       time.Time `json:"started,omitzero"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// InputDirectory is the watched folder.
	InputDirectory string `json:"input_directory,omitempty"`
	// Queue is the number of files waiting for, or in, analysis.
	Queue int `json:"queue"`
	// InFlight is the number of files being analysed right now.
	InFlight int `json:"in_flight"`
	// Files counts the index's files by state.
	Files FileCounts `json:"files"`
	// Faces and Persons count the index's faces and persons.
	Faces   int `json:"faces"`
	Persons int `json:"persons"`
	// PhotosPerSecond is the analysis rate over the last minute.
	PhotosPerSecond float64 `json:"photos_per_second"`
	// ETASeconds estimates when the queue will be empty at that rate; 0
	// when the queue is empty, -1 when there is no rate yet.
	ETASeconds float64 `json:"eta_seconds"`
	// Errors are the latest failures, newest first.
	Errors []FileError `json:"errors"`
	// Problems are daemon-wide conditions that hold work back (a full data
	// disk, failing sidecar writes, failing clustering), oldest first, each
	// with a count; empty when all is well. The work waits and is retried
	// with backoff: nothing is lost.
	Problems []Problem `json:"problems,omitempty"`
	// Idle is true when the daemon has nothing left to do: queue empty,
	// nothing in analysis, persons clustered and sidecars written (failed
	// sidecar writes wait for their retry: see Problems). A full data disk
	// is never idle.
	Idle bool `json:"idle"`
	// Scanning is true while a reconciliation scan is running.
	Scanning bool `json:"scanning,omitempty"`
	// LastScan is when the last reconciliation scan finished.
	LastScan time.Time `json:"last_scan,omitzero"`
}

// FileCounts counts files by state.
type FileCounts struct {
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
	// SidecarFailed counts analysed files whose sidecar could not be
	// written (retried with backoff and by retry).
	SidecarFailed int `json:"sidecar_failed,omitempty"`
	// Media counts the analysed files by media kind (photo, raw, motion
	// for a Google/Samsung motion photo read as its still, video).
	Media map[string]int `json:"media,omitempty"`
}

// Problem is a daemon-wide condition in Status.Problems.
type Problem struct {
	// Kind is one of "data_disk_full", "index_writes_failing",
	// "sidecar_writes_failing", "clustering_failing".
	Kind string `json:"kind"`
	// Message says it for people, counts included.
	Message string `json:"message"`
	// Count is how many files (for clustering: attempts) wait on it.
	Count int `json:"count"`
	// Since is the first failure; RetryAt the next attempt.
	Since   time.Time `json:"since,omitzero"`
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Error is the last error.
	Error string `json:"error,omitempty"`
}

// FileError is a file faced could not process and why.
type FileError struct {
	File   string    `json:"file"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time,omitzero"`
}

// ScanRequest is the body of POST /v1/scan.
type ScanRequest struct {
	// Path limits the scan to a file or folder inside InputDirectory;
	// empty scans all of it.
	Path string `json:"path,omitempty"`
}

// ScanResult is the answer to POST /v1/scan, sent once the walk finished.
type ScanResult struct {
	// Seen is the number of candidate files the walk found.
	Seen int `json:"seen"`
	// Queued is how many of them were (re)queued for analysis.
	Queued int `json:"queued"`
	// Renamed and Removed count index entries updated without analysis.
	Renamed int `json:"renamed"`
	Removed int `json:"removed"`
}

// RetryResult is the answer to POST /v1/retry.
type RetryResult struct {
	// Requeued is the number of failed files put back in the queue.
	Requeued int `json:"requeued"`
	// Sidecars is the number of failed sidecar writes tried again now.
	Sidecars int `json:"sidecars,omitempty"`
}

// ErrorBody is the JSON body of every non-2xx answer.
type ErrorBody struct {
	Error string `json:"error"`
}
