/*
 * cimagecodecs: the only code in cyclex that includes png.h, jpeglib.h and zlib.h.
 *
 * libpng and libjpeg report errors with longjmp, which Swift cannot do safely (a longjmp across Swift
 * frames skips their cleanup and reference counting), so
 * every setjmp lives here: each function returns a CX_* status code and writes a human-readable
 * message ("libjpeg: Premature end of JPEG file") into the caller's `err` buffer.
 */
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CX_OK = 0,
    CX_ERR_OPEN = 1,        /* cannot open / read / stat the file */
    CX_ERR_FORMAT = 2,      /* not a PNG or JPEG file */
    CX_ERR_DECODE = 3,      /* corrupt or truncated data */
    CX_ERR_UNSUPPORTED = 4, /* valid file, unsupported layout (or unsupported write request) */
    CX_ERR_MEMORY = 5,      /* allocation failed or image exceeds the size limits */
    CX_ERR_WRITE = 6        /* cannot create / write the output file */
};

/* Decoded image: interleaved samples, rows top to bottom, no padding.
 * depth 8: uint8_t samples; depth 16: uint16_t samples in host byte order.
 * channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
typedef struct {
    int width;
    int height;
    int channels;
    int depth;
    int exif_orientation; /* JPEG: the EXIF orientation found (1-8, already applied); PNG: 1 */
    void *pixels;         /* malloc'ed; release with cx_free_image */
} cx_image;

/* Limits applied to every decode, checked from the file's header before any pixel, row or
 * coefficient buffer is allocated (a few bytes can declare a 65500x65500 image):
 *   max_pixels      width x height (JPEG, PNG)                       default 100,000,000
 *   max_side        width and height each (JPEG, PNG)                default 65,535
 *   max_jpeg_scans  scans of a progressive JPEG (each costs a pass)  default 500
 *   max_file_bytes  bytes of a gzip-transparent read (IDX files)      default 4 GiB
 * libjpeg's own working memory (progressive coefficient buffers) is capped at 10 bytes per
 * allowed pixel; PNG ancillary chunks at 8 MB each. Values of 0 keep the current setting.
 * The process-wide setting (cx_set_limits) applies where a reader is passed NULL limits. */
typedef struct {
    uint64_t max_pixels;
    uint32_t max_side;
    uint32_t max_jpeg_scans;
    uint64_t max_file_bytes;
} cx_limits;

void cx_set_limits(cx_limits limits);
cx_limits cx_get_limits(void);

/* Test helper: a progressive JPEG whose scan script refines every AC coefficient of every
 * component on its own in three successive-approximation passes (1 + 3 x 63 x 3 = 568 scans),
 * the shape of a "thousands of scans" CPU-exhaustion file. RGB 8-bit input. */
int cx_jpeg_write_many_scans(const char *path, const cx_image *img, int quality, char *err, size_t errlen);

/* Reads a PNG or JPEG (sniffed from the magic bytes, not the name).
 * PNG: palette -> RGB(A), gray 1/2/4-bit -> 8-bit, tRNS -> alpha, 16-bit kept, interlacing handled.
 * JPEG: gray stays 1 channel, YCbCr -> RGB, CMYK/YCCK -> RGB (Adobe inversion honoured), EXIF
 * orientation applied so the result is upright. */
int cx_read_image(const char *path, const cx_limits *limits, cx_image *out, char *err, size_t errlen);

/* Same, from memory. */
int cx_decode_image(const uint8_t *data, size_t size, const cx_limits *limits, cx_image *out, char *err,
                    size_t errlen);

void cx_free_image(cx_image *img);

/* PNG: 1-4 channels, depth 8 or 16 (16-bit samples in host order). compression_level 0-9.
 * On error the partial output file is removed. */
int cx_png_write(const char *path, const cx_image *img, int compression_level, char *err, size_t errlen);

/* JPEG: 1 or 3 channels, depth 8, quality 1-100, optional progressive scan script.
 * On error the partial output file is removed. */
int cx_jpeg_write(const char *path, const cx_image *img, int quality, int progressive, char *err,
                  size_t errlen);

/* Test helper: writes an RGB 8-bit image as an Adobe-style (inverted) CMYK JPEG, or YCCK when
 * `ycck` is nonzero, the way Photoshop and ImageMagick do. */
int cx_jpeg_write_cmyk(const char *path, const cx_image *img, int quality, int ycck, char *err,
                       size_t errlen);

/* Reads a whole file through zlib: gzip-compressed files are inflated, other files are returned
 * as they are; more than max_file_bytes of (inflated) content is refused with CX_ERR_MEMORY.
 * *out is malloc'ed (release with cx_free_buffer). */
int cx_read_maybe_gzip(const char *path, const cx_limits *limits, uint8_t **out, size_t *size, char *err,
                       size_t errlen);

void cx_free_buffer(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
