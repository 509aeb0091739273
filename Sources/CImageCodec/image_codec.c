// See include/image_codec.h. Every libjpeg call runs under a setjmp installed in the same function,
// so that a libjpeg error (which would otherwise exit the process) becomes a return code.
#include "image_codec.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

// A hostile progressive JPEG can hold thousands of tiny scans, each costing a full pass.
#define FW_MAX_SCANS 1000

// ---------------------------------------------------------------------------------------------
// JPEG errors

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int code;
    int reading_pixels;   // premature EOF is fatal only while pixel data is still needed
    int saw_eof;          // the data ran out (jpeg_mem_src then feeds a fake EOI)
    char message[JMSG_LENGTH_MAX + 64];
} fw_error_mgr;

static void fw_fail(j_common_ptr cinfo, int code) {
    fw_error_mgr *err = (fw_error_mgr *)cinfo->err;
    err->code = code;
    longjmp(err->jump, 1);
}

static void fw_error_exit(j_common_ptr cinfo) {
    fw_error_mgr *err = (fw_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    int truncated = err->pub.msg_code == JERR_INPUT_EOF || err->saw_eof;
    if (truncated) snprintf(err->message, sizeof err->message, "truncated: the data ends inside the header");
    fw_fail(cinfo, truncated ? FW_ERROR_TRUNCATED : FW_ERROR_CORRUPT);
}

static void fw_emit_message(j_common_ptr cinfo, int msg_level) {
    fw_error_mgr *err = (fw_error_mgr *)cinfo->err;
    if (msg_level >= 0) return;  // trace messages
    err->pub.num_warnings++;
    if (err->pub.msg_code == JWRN_JPEG_EOF) err->saw_eof = 1;
    // jpeg_mem_src reports running out of data as this warning and then feeds a fake EOI, which
    // would give a grey bottom half. Refuse instead, as Pillow does by default.
    if (err->pub.msg_code == JWRN_JPEG_EOF && err->reading_pixels) {
        (*cinfo->err->format_message)(cinfo, err->message);
        snprintf(err->message, sizeof err->message, "truncated: the data ends before the image does");
        fw_fail(cinfo, FW_ERROR_TRUNCATED);
    }
}

static void fw_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void fw_error_init(fw_error_mgr *err) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = fw_error_exit;
    err->pub.emit_message = fw_emit_message;
    err->pub.output_message = fw_output_message;
    err->code = FW_OK;
    err->reading_pixels = 0;
    err->saw_eof = 0;
    err->message[0] = 0;
}

static void fw_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (dinfo->input_scan_number > FW_MAX_SCANS) {
        fw_error_mgr *err = (fw_error_mgr *)cinfo->err;
        snprintf(err->message, sizeof err->message, "more than %d progressive scans", FW_MAX_SCANS);
        fw_fail(cinfo, FW_ERROR_CORRUPT);
    }
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation (APP1 "Exif\0\0" + TIFF header + IFD0 tag 0x0112), every offset checked.

static unsigned fw_read16(const unsigned char *p, int little) {
    return little ? (unsigned)p[0] | ((unsigned)p[1] << 8) : ((unsigned)p[0] << 8) | (unsigned)p[1];
}

static uint32_t fw_read32(const unsigned char *p, int little) {
    return little ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)
                  : ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int fw_exif_orientation(const unsigned char *data, size_t length) {
    if (length < 6 + 8 || memcmp(data, "Exif\0\0", 6) != 0) return 0;
    const unsigned char *tiff = data + 6;
    size_t size = length - 6;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') little = 0;
    else return 0;
    if (fw_read16(tiff + 2, little) != 42) return 0;
    uint32_t ifd = fw_read32(tiff + 4, little);
    if (ifd < 8 || (size_t)ifd > size || size - ifd < 2) return 0;
    unsigned count = fw_read16(tiff + ifd, little);
    for (unsigned i = 0; i < count; i++) {
        size_t entry = (size_t)ifd + 2 + 12 * (size_t)i;
        if (entry > size || size - entry < 12) return 0;
        if (fw_read16(tiff + entry, little) != 0x0112) continue;
        unsigned type = fw_read16(tiff + entry + 2, little);
        uint32_t n = fw_read32(tiff + entry + 4, little);
        unsigned value;
        if (type == 3 && n >= 1) value = fw_read16(tiff + entry + 8, little);        // SHORT
        else if (type == 4 && n >= 1) value = fw_read32(tiff + entry + 8, little);   // LONG
        else return 0;
        return (value >= 1 && value <= 8) ? (int)value : 0;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// JPEG decoding

struct fw_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    fw_error_mgr err;
    struct jpeg_progress_mgr progress;
    int header_read;
    int adobe_inverted;
};

fw_jpeg_decoder *fw_jpeg_decoder_create(void) {
    fw_jpeg_decoder *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    fw_error_init(&d->err);
    d->cinfo.err = &d->err.pub;
    if (setjmp(d->err.jump)) {
        jpeg_destroy_decompress(&d->cinfo);
        free(d);
        return NULL;
    }
    jpeg_create_decompress(&d->cinfo);
    d->progress.progress_monitor = fw_progress;
    d->cinfo.progress = &d->progress;
    return d;
}

void fw_jpeg_decoder_destroy(fw_jpeg_decoder *d) {
    if (!d) return;
    jpeg_destroy_decompress(&d->cinfo);
    free(d);
}

const char *fw_jpeg_message(const fw_jpeg_decoder *d) { return d ? d->err.message : ""; }

int fw_jpeg_read_header(fw_jpeg_decoder *d, const unsigned char *data, size_t size, fw_jpeg_info *info) {
    if (!d || !info) return FW_ERROR_STATE;
    d->header_read = 0;
    d->err.code = FW_OK;
    d->err.message[0] = 0;
    d->err.reading_pixels = 0;
    d->err.saw_eof = 0;
    d->err.pub.num_warnings = 0;
    memset(info, 0, sizeof *info);
    if (setjmp(d->err.jump)) {
        jpeg_abort_decompress(&d->cinfo);
        return d->err.code ? d->err.code : FW_ERROR_CORRUPT;
    }
    jpeg_abort_decompress(&d->cinfo);
    if (size == 0 || size > (size_t)0xFFFFFFFFu) {
        snprintf(d->err.message, sizeof d->err.message, size ? "file too large" : "empty data");
        return FW_ERROR_CORRUPT;
    }
    jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    // A header cut short is corrupt, not merely truncated pixels.
    if (jpeg_read_header(&d->cinfo, TRUE) != JPEG_HEADER_OK) {
        snprintf(d->err.message, sizeof d->err.message, "no image in the JPEG data");
        jpeg_abort_decompress(&d->cinfo);
        return FW_ERROR_CORRUPT;
    }
    info->width = (int)d->cinfo.image_width;
    info->height = (int)d->cinfo.image_height;
    info->components = d->cinfo.num_components;
    info->color_space = (int)d->cinfo.jpeg_color_space;
    info->progressive = d->cinfo.progressive_mode ? 1 : 0;
    info->arithmetic = d->cinfo.arith_code ? 1 : 0;
    info->adobe = d->cinfo.saw_Adobe_marker ? 1 : 0;
    info->orientation = 1;
    for (jpeg_saved_marker_ptr m = d->cinfo.marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1) continue;
        int orientation = fw_exif_orientation(m->data, m->data_length);
        if (orientation) { info->orientation = orientation; break; }
    }
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_RGB: case JCS_YCbCr: case JCS_CMYK: case JCS_YCCK:
        break;
    default:
        snprintf(d->err.message, sizeof d->err.message, "unsupported JPEG colour space %d",
                 (int)d->cinfo.jpeg_color_space);
        jpeg_abort_decompress(&d->cinfo);
        return FW_ERROR_UNSUPPORTED;
    }
    d->adobe_inverted = d->cinfo.saw_Adobe_marker ? 1 : 0;
    d->header_read = 1;
    return FW_OK;
}

int fw_jpeg_scaled_size(fw_jpeg_decoder *d, int scale_num, int *width, int *height) {
    if (!d || !d->header_read || scale_num < 1 || scale_num > 16) return FW_ERROR_STATE;
    // jpeg_calc_output_dimensions: ceil(dimension * scale_num / 8).
    *width = (int)(((long long)d->cinfo.image_width * scale_num + 7) / 8);
    *height = (int)(((long long)d->cinfo.image_height * scale_num + 7) / 8);
    return FW_OK;
}

// Pillow's cmyk2rgb: R = (255 - K) - C*(255 - K)/255, with its rounding MULDIV255.
static inline unsigned char fw_muldiv255(int a, int b) {
    int t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

static void fw_cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, int width, int inverted) {
    for (int x = 0; x < width; x++) {
        int c = in[0], m = in[1], y = in[2], k = in[3];
        if (inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        int nk = 255 - k;
        out[0] = (unsigned char)(nk - fw_muldiv255(c, nk));
        out[1] = (unsigned char)(nk - fw_muldiv255(m, nk));
        out[2] = (unsigned char)(nk - fw_muldiv255(y, nk));
        in += 4;
        out += 3;
    }
}

int fw_jpeg_decode_rgb(fw_jpeg_decoder *d, int scale_num, unsigned char *out, size_t out_size) {
    if (!d || !d->header_read || scale_num < 1 || scale_num > 16) return FW_ERROR_STATE;
    d->header_read = 0;
    if (setjmp(d->err.jump)) {
        d->err.reading_pixels = 0;
        jpeg_abort_decompress(&d->cinfo);
        return d->err.code ? d->err.code : FW_ERROR_CORRUPT;
    }
    struct jpeg_decompress_struct *cinfo = &d->cinfo;
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->scale_num = (unsigned)scale_num;
    cinfo->scale_denom = 8;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    d->err.reading_pixels = 1;
    jpeg_start_decompress(cinfo);
    size_t width = cinfo->output_width, height = cinfo->output_height;
    if (cinfo->output_components != (cmyk ? 4 : 3) || width * height * 3 > out_size) {
        snprintf(d->err.message, sizeof d->err.message, "output buffer too small");
        d->err.reading_pixels = 0;
        jpeg_abort_decompress(cinfo);
        return FW_ERROR_STATE;
    }
    JSAMPARRAY cmyk_row = NULL;
    if (cmyk) cmyk_row = (*cinfo->mem->alloc_sarray)((j_common_ptr)cinfo, JPOOL_IMAGE, (JDIMENSION)(width * 4), 1);
    while (cinfo->output_scanline < cinfo->output_height) {
        unsigned char *row = out + (size_t)cinfo->output_scanline * width * 3;
        if (cmyk) {
            if (jpeg_read_scanlines(cinfo, cmyk_row, 1) != 1) break;
            fw_cmyk_row_to_rgb(cmyk_row[0], row, (int)width, d->adobe_inverted);
        } else {
            JSAMPROW rows[1] = { row };
            if (jpeg_read_scanlines(cinfo, rows, 1) != 1) break;
        }
    }
    d->err.reading_pixels = 0;
    int complete = cinfo->output_scanline == cinfo->output_height;
    // Everything after the last scanline (EOI, trailing markers) is of no interest.
    jpeg_abort_decompress(cinfo);
    if (!complete) {
        snprintf(d->err.message, sizeof d->err.message, "truncated: fewer scanlines than the header says");
        return FW_ERROR_TRUNCATED;
    }
    return FW_OK;
}

// ---------------------------------------------------------------------------------------------
// JPEG encoding (fixtures for tests)

static size_t fw_exif_segment(unsigned char *buffer, int orientation, int big_endian) {
    static const unsigned char header[6] = { 'E', 'x', 'i', 'f', 0, 0 };
    unsigned char *p = buffer;
    memcpy(p, header, 6); p += 6;
    unsigned char *tiff = p;
    if (big_endian) { p[0] = 'M'; p[1] = 'M'; p[2] = 0; p[3] = 42; p[4] = 0; p[5] = 0; p[6] = 0; p[7] = 8; }
    else { p[0] = 'I'; p[1] = 'I'; p[2] = 42; p[3] = 0; p[4] = 8; p[5] = 0; p[6] = 0; p[7] = 0; }
    p += 8;
    // One IFD entry: tag 0x0112, type SHORT, count 1, value; then next IFD offset 0.
    unsigned char entry[2 + 12 + 4];
    memset(entry, 0, sizeof entry);
    if (big_endian) {
        entry[1] = 1;
        entry[2] = 0x01; entry[3] = 0x12; entry[5] = 3; entry[9] = 1; entry[11] = (unsigned char)orientation;
    } else {
        entry[0] = 1;
        entry[2] = 0x12; entry[3] = 0x01; entry[4] = 3; entry[6] = 1; entry[10] = (unsigned char)orientation;
    }
    memcpy(p, entry, sizeof entry); p += sizeof entry;
    (void)tiff;
    return (size_t)(p - buffer);
}

int fw_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                   int jpeg_color_space, int quality, int progressive, int arithmetic,
                   int orientation, int exif_big_endian,
                   unsigned char **out, size_t *out_size, char *message, size_t message_size) {
    struct jpeg_compress_struct cinfo;
    fw_error_mgr err;
    unsigned long size = 0;
    *out = NULL;
    *out_size = 0;
    if (components != 1 && components != 3 && components != 4) return FW_ERROR_STATE;
    memset(&cinfo, 0, sizeof cinfo);
    fw_error_init(&err);
    cinfo.err = &err.pub;
    if (setjmp(err.jump)) {
        if (message && message_size) snprintf(message, message_size, "%s", err.message);
        jpeg_destroy_compress(&cinfo);  // (a fixture encoder: the partial buffer is not reclaimed)
        return FW_ERROR_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    if (jpeg_color_space) jpeg_set_colorspace(&cinfo, (J_COLOR_SPACE)jpeg_color_space);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    if (arithmetic) cinfo.arith_code = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    if (orientation >= 1 && orientation <= 8) {
        unsigned char segment[64];
        size_t length = fw_exif_segment(segment, orientation, exif_big_endian);
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, segment, (unsigned)length);
    }
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = mem;
    *out_size = size;
    return FW_OK;
}

// ---------------------------------------------------------------------------------------------
// PNG decoding with the full API: every libpng call below runs under a setjmp in its own function.
//
// Transformations: palette -> RGB, tRNS -> alpha, gray -> RGB, bit depths below 8 expanded, 16-bit
// scaled to 8 with rounding (v*255/65535, png_set_scale_16); the gAMA chunk is ignored, as Pillow and
// most viewers do. Alpha is then composited over the background in 8-bit sRGB values:
// out = (c*a + bg*(255-a) + 127) / 255.

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
} fw_png_source;

struct fw_png_decoder {
    png_structp png;
    png_infop info;
    fw_png_source source;
    int active;
    int code;
    char message[160];
};

static void fw_png_read(png_structp png, png_bytep out, png_size_t length) {
    fw_png_source *source = (fw_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) {
        fw_png_decoder *d = (fw_png_decoder *)png_get_error_ptr(png);
        d->code = FW_ERROR_TRUNCATED;
        snprintf(d->message, sizeof d->message, "truncated: the data ends before the image does");
        png_longjmp(png, 1);
    }
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

static void fw_png_decode_error(png_structp png, png_const_charp text) {
    fw_png_decoder *d = (fw_png_decoder *)png_get_error_ptr(png);
    if (d->code == FW_OK) {
        d->code = FW_ERROR_CORRUPT;
        snprintf(d->message, sizeof d->message, "%s", text);
    }
    png_longjmp(png, 1);
}

static void fw_png_quiet_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

fw_png_decoder *fw_png_decoder_create(void) { return calloc(1, sizeof(fw_png_decoder)); }

void fw_png_abort(fw_png_decoder *d) {
    if (d && d->png) png_destroy_read_struct(&d->png, &d->info, NULL);
    if (d) { d->png = NULL; d->info = NULL; d->active = 0; }
}

void fw_png_decoder_destroy(fw_png_decoder *d) {
    if (!d) return;
    fw_png_abort(d);
    free(d);
}

const char *fw_png_message(const fw_png_decoder *d) { return d ? d->message : ""; }

int fw_png_read_header(fw_png_decoder *d, const unsigned char *data, size_t size, fw_png_info *info) {
    if (!d || !info) return FW_ERROR_STATE;
    fw_png_abort(d);
    memset(info, 0, sizeof *info);
    d->code = FW_OK;
    d->message[0] = 0;
    d->source.data = data;
    d->source.size = size;
    d->source.offset = 0;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, fw_png_decode_error, fw_png_quiet_warning);
    if (!d->png) return FW_ERROR_STATE;
    d->info = png_create_info_struct(d->png);
    if (!d->info) { fw_png_abort(d); return FW_ERROR_STATE; }
    if (setjmp(png_jmpbuf(d->png))) {
        int code = d->code ? d->code : FW_ERROR_CORRUPT;
        fw_png_abort(d);
        return code;
    }
    png_set_read_fn(d->png, &d->source, fw_png_read);
    png_read_info(d->png, d->info);
    png_uint_32 width, height;
    int depth, color_type;
    png_get_IHDR(d->png, d->info, &width, &height, &depth, &color_type, NULL, NULL, NULL);
    info->width = (int)width;
    info->height = (int)height;
    info->has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(d->png, d->info, PNG_INFO_tRNS) ? 1 : 0;
    info->has_color = (color_type & PNG_COLOR_MASK_COLOR) ? 1 : 0;
    info->bit_depth16 = depth == 16;
    info->palette = color_type == PNG_COLOR_TYPE_PALETTE;
    d->active = 1;
    return FW_OK;
}

int fw_png_decode_rgb(fw_png_decoder *d, unsigned char *out, size_t out_size,
                      int background_r, int background_g, int background_b) {
    if (!d || !d->active) return FW_ERROR_STATE;
    d->active = 0;
    unsigned char *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(d->png))) {
        int code = d->code ? d->code : FW_ERROR_CORRUPT;
        free(rgba);
        free(rows);
        fw_png_abort(d);
        return code;
    }
    png_structp png = d->png;
    png_infop info = d->info;
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    if ((size_t)width * height * 3 > out_size) {
        snprintf(d->message, sizeof d->message, "output buffer too small");
        fw_png_abort(d);
        return FW_ERROR_STATE;
    }
    png_set_expand(png);            // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
    png_set_scale_16(png);          // 16 -> 8 bits, rounded
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);  // always RGBA
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 4) {
        snprintf(d->message, sizeof d->message, "unexpected row layout");
        fw_png_abort(d);
        return FW_ERROR_UNSUPPORTED;
    }
    rgba = malloc((size_t)width * height * 4);
    rows = malloc(sizeof(png_bytep) * height);
    if (!rgba || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = rgba + (size_t)y * width * 4;
    png_read_image(png, rows);
    size_t count = (size_t)width * height;
    const unsigned char *in = rgba;
    for (size_t i = 0; i < count; i++, in += 4, out += 3) {
        int a = in[3];
        if (a == 255) {
            out[0] = in[0]; out[1] = in[1]; out[2] = in[2];
        } else {
            out[0] = (unsigned char)((in[0] * a + background_r * (255 - a) + 127) / 255);
            out[1] = (unsigned char)((in[1] * a + background_g * (255 - a) + 127) / 255);
            out[2] = (unsigned char)((in[2] * a + background_b * (255 - a) + 127) / 255);
        }
    }
    free(rgba);
    free(rows);
    fw_png_abort(d);
    return FW_OK;
}

// ---------------------------------------------------------------------------------------------
// PNG encoding with the full API (any colour type and depth, for fixtures)

typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
    int failed;
} fw_buffer;

static void fw_png_write(png_structp png, png_bytep data, png_size_t length) {
    fw_buffer *b = (fw_buffer *)png_get_io_ptr(png);
    if (b->failed) return;
    if (b->size + length > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + length) capacity *= 2;
        unsigned char *grown = realloc(b->data, capacity);
        if (!grown) { b->failed = 1; png_error(png, "out of memory"); }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, data, length);
    b->size += length;
}

static void fw_png_flush(png_structp png) { (void)png; }

typedef struct {
    char *message;
    size_t message_size;
} fw_png_error_context;

static void fw_png_error(png_structp png, png_const_charp text) {
    fw_png_error_context *context = (fw_png_error_context *)png_get_error_ptr(png);
    if (context && context->message && context->message_size)
        snprintf(context->message, context->message_size, "%s", text);
    png_longjmp(png, 1);
}

static void fw_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

int fw_png_encode(const unsigned char *rows, int width, int height, int color_type, int bit_depth,
                  const unsigned char *palette, int palette_entries, int compression,
                  unsigned char **out, size_t *out_size, char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    fw_png_error_context context = { message, message_size };
    fw_buffer buffer = { NULL, 0, 0, 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, fw_png_error, fw_png_warning);
    if (!png) return FW_ERROR_STATE;
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); return FW_ERROR_STATE; }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(buffer.data);
        return FW_ERROR_CORRUPT;
    }
    png_set_write_fn(png, &buffer, fw_png_write, fw_png_flush);
    png_set_compression_level(png, compression);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color entries[256];
        int n = palette_entries < 1 ? 1 : palette_entries > 256 ? 256 : palette_entries;
        for (int i = 0; i < n; i++) {
            entries[i].red = palette[3 * i];
            entries[i].green = palette[3 * i + 1];
            entries[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, entries, n);
    }
    png_write_info(png, info);
    size_t channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 3 ? 1 : color_type == 4 ? 2 : 4;
    size_t row_bytes = (size_t)width * channels * (size_t)(bit_depth / 8);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rows + (size_t)y * row_bytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = buffer.data;
    *out_size = buffer.size;
    return FW_OK;
}

void fw_free(void *pointer) { free(pointer); }
