// A thin C layer over libjpeg-turbo and libpng for FaceWGAN's Images module.
//
// libjpeg's default error handler calls exit(), and recovering from a libjpeg error needs
// setjmp/longjmp, which Swift cannot do. Every entry point here installs an error manager that
// longjmps back and returns a non-zero code with a message instead. libpng (whose errors longjmp
// too) is wrapped the same way.
#ifndef FACEWGAN_IMAGE_CODEC_H
#define FACEWGAN_IMAGE_CODEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Colour spaces of a JPEG file, as libjpeg's J_COLOR_SPACE numbers them.
enum {
    FW_JPEG_GRAYSCALE = 1,
    FW_JPEG_RGB = 2,
    FW_JPEG_YCBCR = 3,
    FW_JPEG_CMYK = 4,
    FW_JPEG_YCCK = 5,
};

/// Error codes returned by the decoders (0 = success).
enum {
    FW_OK = 0,
    FW_ERROR_CORRUPT = 1,      // libjpeg / libpng rejected the data
    FW_ERROR_TRUNCATED = 2,    // the data ended before the image did
    FW_ERROR_UNSUPPORTED = 3,  // valid, but a kind we do not convert (e.g. 12-bit JPEG)
    FW_ERROR_STATE = 4,        // calls made in the wrong order or with a too small buffer
};

/// What a JPEG header says.
typedef struct {
    int width;
    int height;
    int components;     // 1, 3 or 4
    int color_space;    // FW_JPEG_*
    int orientation;    // EXIF orientation 1...8 (1 when absent or invalid)
    int progressive;
    int arithmetic;
    int adobe;          // an Adobe APP14 marker was seen (CMYK data is then stored inverted)
} fw_jpeg_info;

typedef struct fw_jpeg_decoder fw_jpeg_decoder;

/// A reusable decoder (one per thread). Returns NULL when out of memory.
fw_jpeg_decoder *fw_jpeg_decoder_create(void);
void fw_jpeg_decoder_destroy(fw_jpeg_decoder *decoder);

/// Reads the header of `data` (which must stay valid until the decode or the next header).
int fw_jpeg_read_header(fw_jpeg_decoder *decoder, const unsigned char *data, size_t size,
                        fw_jpeg_info *info);

/// The output size when decoding at scale_num/8 (1...16), without decoding.
int fw_jpeg_scaled_size(fw_jpeg_decoder *decoder, int scale_num, int *width, int *height);

/// Decodes the image whose header was just read into 8-bit RGB, rows of 3*width bytes, at
/// scale_num/8 (DCT-domain scaling). Grayscale is replicated; CMYK and YCCK are converted with
/// R = (255-C)(255-K)/255 (inverted storage when the Adobe marker is present), as Pillow does.
int fw_jpeg_decode_rgb(fw_jpeg_decoder *decoder, int scale_num, unsigned char *out, size_t out_size);

/// The message of the last error (empty when none).
const char *fw_jpeg_message(const fw_jpeg_decoder *decoder);

/// Encodes a JPEG (for tests and tools). `components` is 1 (gray), 3 (RGB) or 4 (CMYK);
/// `jpeg_color_space` is FW_JPEG_* of the file (e.g. FW_JPEG_YCCK for CMYK input stored as YCCK).
/// `orientation` 1...8 writes an EXIF APP1 segment (0: none); `exif_big_endian` picks MM over II.
/// On success *out is malloc'ed (free with fw_free).
int fw_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                   int jpeg_color_space, int quality, int progressive, int arithmetic,
                   int orientation, int exif_big_endian,
                   unsigned char **out, size_t *out_size, char *message, size_t message_size);

/// What a PNG header says.
typedef struct {
    int width;
    int height;
    int has_alpha;
    int has_color;
    int bit_depth16;
    int palette;
} fw_png_info;

typedef struct fw_png_decoder fw_png_decoder;

fw_png_decoder *fw_png_decoder_create(void);
void fw_png_decoder_destroy(fw_png_decoder *decoder);

/// Reads the header of `data` (which must stay valid until the decode).
int fw_png_read_header(fw_png_decoder *decoder, const unsigned char *data, size_t size,
                       fw_png_info *info);

/// Decodes to 8-bit RGB, rows of 3*width bytes: palette expanded, gray replicated, 16-bit scaled
/// to 8 with rounding, gAMA ignored (as Pillow does), alpha (or tRNS) composited over (r, g, b) in
/// 8-bit values: out = (c*a + bg*(255-a) + 127) / 255.
int fw_png_decode_rgb(fw_png_decoder *decoder, unsigned char *out, size_t out_size,
                      int background_r, int background_g, int background_b);

/// Forgets the image whose header was read without decoding it.
void fw_png_abort(fw_png_decoder *decoder);

const char *fw_png_message(const fw_png_decoder *decoder);

/// Encodes a PNG with libpng's full API. `rows` holds height rows in the file's own layout
/// (`color_type` 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA; `bit_depth` 8 or 16, 16-bit
/// samples big-endian), `palette` entries*3 bytes for color type 3. `compression` 0...9.
/// On success *out is malloc'ed (free with fw_free).
int fw_png_encode(const unsigned char *rows, int width, int height, int color_type, int bit_depth,
                  const unsigned char *palette, int palette_entries, int compression,
                  unsigned char **out, size_t *out_size, char *message, size_t message_size);

void fw_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
