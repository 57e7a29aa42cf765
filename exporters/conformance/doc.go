// Package conformance reproduces, one reader a file, the rules by which the
// photo managers faced writes for read its sidecars: Immich (through the
// real exiftool-vendored it runs, immich.go), digiKam 8 (through exiv2, the
// library it reads XMP with, digikam.go), PhotoPrism (photoprism.go) and
// Lightroom Classic (lightroom.go). Each rule is written here as a fact, in
// this package's own code, with the reader's version and source file named
// beside it; the tests run them over faced's sidecars on the shared test
// photos and count what each reader would import.
//
// The package is test support: faced itself never imports it.
package conformance
