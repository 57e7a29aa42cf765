package media

// # Raw files, pairs and sidecars
//
// A raw file is analysed through its largest embedded JPEG (analyzer/
// rawpreview): JpgFromRaw, PreviewImage, CR3's full-size track or PRVW,
// RAF's header preview. Faces are boxed in that preview's pixels and the
// orientation is the preview's EXIF Orientation or, without one, the raw's
// IFD0 (CR3: CMT1) Orientation, the tag photo managers turn a raw by. The
// sidecar's mwg-rs:AppliedToDimensions names the preview's stored size and
// the areas are normalised (0-1) in that stored frame: for the full-size
// previews cameras embed that is the raw's default crop, the image digiKam
// (via LibRaw), Lightroom and darktable develop, so normalised areas land on
// the same faces there. A preview smaller than 1 000 px is refused as
// unsupported (faces would be lost); raw sensor data is not decoded.
//
// Sidecar names readers look for:
//   - Lightroom (and every Adobe application) reads and writes photo.xmp
//     beside a raw (the extension replaced): SidecarNaming = base.
//   - digiKam (MetaEngine::sidecarFilePathForFile) reads photo.xmp when it
//     exists, else photo.CR2.xmp (the extension kept): either naming.
//   - darktable keeps its edit history in photo.CR2.xmp (extension kept)
//     and shows no face regions; faced merges into that sidecar without
//     touching darktable's elements (exporters).
//
// RAW+JPEG pairs (IMG_1.CR2 + IMG_1.JPG) are one photo: PrimaryOf makes the
// JPEG the file analysed and the raw a companion that the walk and the
// watcher leave out (persons count the moment once); the exporter writes the
// JPEG's faces into the raw's sidecar too (full naming: IMG_1.CR2.xmp beside
// IMG_1.JPG.xmp; base naming: the pair's one IMG_1.xmp, which both files
// share and which is written once). An Apple Live Photo (IMG_2.HEIC +
// IMG_2.MOV) is analysed as its still; the MOV is a companion, not a video
// of its own. Google/Samsung motion photos (a JPEG or HEIC with the MP4
// inside) are read as the still they start with.
