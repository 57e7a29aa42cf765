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
// the same faces there. Without a preview of at least 1 000 px (faces
// would be lost in it) the sensor data is decoded by LibRaw
// (analyzer/libraw) at half size, in the stored frame turned by LibRaw's
// flip; the regions' AppliedToDimensions is that half-size image (LibRaw's
// visible area halved), the areas normalised to it. A raw LibRaw cannot
// read either (an unknown camera, sensor data missing or cut short) is
// named unsupported with both reasons.
//
// Preview and sensor geometry: a preview whose aspect ratio differs from
// the image LibRaw develops (its visible area, read from the raw's headers)
// by more than 1 % does not cover it: an in-camera aspect ratio (16:9, 1:1,
// 4:3 on Olympus, Panasonic, Fujifilm, Sony) crops the preview, not the
// sensor data. faced then takes the preview as the centred crop of the
// visible area with the preview's aspect, at one scale, and places the
// faces on the visible area: boxes, the stored frame and
// AppliedToDimensions are the visible area's, and status notes it
// (mapPreviewToSensor in analyzer/raw.go). Not handled: an off-centre
// crop (Olympus AspectFrame, DNG DefaultCropOrigin are not read), Fujifilm
// sensors LibRaw develops turned by 45°, and raws LibRaw cannot read (the
// preview's frame is kept). Previews of the visible area's aspect (nearly
// every camera's full-size JpgFromRaw or PreviewImage, Sony's 1616x1080
// for 6000x4000) keep the preview's frame: normalised areas land on the
// same faces in the developed image.
//
// What each reader does with a raw's regions: digiKam 8.1 takes the
// normalised areas onto the size of the image as its loader reads it and
// turns them by the Orientation DMetadata reads (exiv2), ignoring
// AppliedToDimensions (itemscanner_photo.cpp commitFaces; whether its raw
// loader reports that size before or after LibRaw's flip was not checked
// here); Immich
// scales them by AppliedToDimensions and turns them by the Orientation
// exiftool reads from the raw (IFD0, or CR3's CMT1); PhotoPrism turns the
// normalised areas by that Orientation; darktable shows no regions;
// Lightroom's import of regions is not documented (keywords only). All
// of them therefore need only the normalised areas in the stored frame of
// the raw's developed image and the raw's own Orientation, which is what
// faced writes (analyzer TestRawPreviews, TestRawSensorDNG and
// TestRawPreviewCrop read them back with exiftool).
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
// of its own. When both files carry Apple's content identifier (the
// still's maker note tag 0x0011, the MOV's
// com.apple.quicktime.content.identifier: ContentID) they pair only when
// the identifiers are equal; else the base name decides. Only same-named
// files are compared (a Live Photo renamed apart is two files). A MOV
// analysed before its still arrived leaves the index when the still comes
// (daemon observe and reconciliation; a MOV whose analysis is under way
// at that moment is not recorded: wire Store.Done). Its own sidecar, if
// one was written meanwhile, is left alone. Google/Samsung motion
// photos (a JPEG or HEIC with the MP4 inside) are read as the still they
// start with and recorded with kind Motion (IsMotionPhoto; index
// files.media, status "media:").
//
// # HEIF and JPEG XL: the frame of the regions
//
// A HEIF file (HEIC, AVIF) is turned by its irot/imir boxes, which the
// standard makes normative; a phone also writes an Exif Orientation saying
// the same. A JPEG XL file is turned by its codestream's orientation. The
// readers, from their sources:
//   - Immich (server/src/services/metadata.service.ts, orientRegionInfo)
//     shows HEIF and JPEG XL upright (libvips: libheif applies irot/imir,
//     libjxl the codestream orientation) and turns MWG regions only by the
//     EXIF Orientation exiftool reads from the photo.
//   - digiKam 8.1 decodes HEIF with ignore_transformations = 1
//     (core/dplugins/dimg/heif/dimgheifloader_load.cpp) and imports a
//     region on that coded size turned by the Exif Orientation exiv2 reads
//     (core/libs/database/item/scanner/itemscanner_photo.cpp commitFaces:
//     relativeToAbsolute, adjustToOrientation).
//   - PhotoPrism (internal/meta/json_exiftool.go, Dec 2024) takes the EXIF
//     Orientation, and without one derives it from exiftool's QuickTime
//     Rotation (the irot angle, read as clockwise although irot turns
//     anticlockwise).
//   - exiftool reads the Orientation of a HEIF's Exif item and of a JPEG XL
//     Exif box, never irot/imir (reported apart as Rotation) or the JPEG XL
//     codestream's orientation.
// So faced gives the regions (AppliedToDimensions and areas) in the upright
// image turned back by the Exif Orientation when the file has one (a
// phone's HEIC: the coded frame, which all three readers agree on), and in
// the upright frame with no orientation otherwise (analyzeHEIF,
// jxlStoredFrame). Left over: a HEIF turned by irot/imir without an Exif
// Orientation (written by some converters, never by phones) shows upright
// in Immich and faced's regions land there, but digiKam 8.1 shows its coded
// pixels sideways and the regions miss the faces, and PhotoPrism turns them
// by the Rotation it derives. analyzer TestSidecarReadersHEIFJXL checks
// exiftool, Immich (exiftool-vendored) and digiKam (exiv2) on files made in
// every case.
