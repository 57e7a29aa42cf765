// Package wire adapts faced's real packages to the daemon's small
// interfaces: the SQLite index as the daemon's Store, the cluster engine
// and the person rules as its Clusterer, the XMP exporter as its Exporter,
// and the fsnotify watcher as its Watcher. It holds glue only: the SQL stays
// in index, the clustering in cluster, the XMP in exporters.
package wire
