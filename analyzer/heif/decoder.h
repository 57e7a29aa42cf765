// faced's libheif decoder plugins (decoder.c).
#ifndef FACED_HEIF_DECODER_H
#define FACED_HEIF_DECODER_H

// Above libde265's and aom's 100 and dav1d's 150.
#define FACED_HEIF_PRIORITY 200
#define FACED_HEIF_HEVC_ID "faced-hevc"
#define FACED_HEIF_AV1_ID "faced-av1"

struct faced_nclx {
	int valid, matrix, primaries, full_range;
};

// faced_heif_register registers the plugins libavcodec can back: bit 0
// HEVC, bit 1 AV1.
int faced_heif_register(void);

// faced_heif_begin starts a decode session on the calling thread: faced's
// decoders or (use 0) libheif's own, the container's colour description
// (valid 0: none, the bitstream's is used), and decoders kept from one
// grid tile to the next until faced_heif_end.
void faced_heif_begin(int use, int valid, int matrix, int primaries, int full_range);
void faced_heif_end(void);

#endif
