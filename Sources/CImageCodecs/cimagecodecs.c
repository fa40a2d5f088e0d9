/*
 * PNG/JPEG decode and encode, and gzip-transparent file reading, for cyclex.
 * Every setjmp of libpng/libjpeg is caught here and turned into a CX_* code plus a message.
 */
#include "cimagecodecs.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <zlib.h>

/* Decoded sample buffers are never larger than this, whatever the limits say (a backstop against
 * size_t arithmetic on absurd settings). */
#define CX_MAX_BYTES ((size_t)1 << 40)

/* ------------------------------------------------------------------------------------ limits */

static uint64_t limit_pixels = 100000000u;
static uint32_t limit_side = 65535u;
static uint32_t limit_scans = 500u;
static uint64_t limit_file_bytes = (uint64_t)1 << 32;

void cx_set_limits(cx_limits l) {
    if (l.max_pixels) __atomic_store_n(&limit_pixels, l.max_pixels, __ATOMIC_RELAXED);
    if (l.max_side) __atomic_store_n(&limit_side, l.max_side, __ATOMIC_RELAXED);
    if (l.max_jpeg_scans) __atomic_store_n(&limit_scans, l.max_jpeg_scans, __ATOMIC_RELAXED);
    if (l.max_file_bytes) __atomic_store_n(&limit_file_bytes, l.max_file_bytes, __ATOMIC_RELAXED);
}

cx_limits cx_get_limits(void) {
    cx_limits l;
    l.max_pixels = __atomic_load_n(&limit_pixels, __ATOMIC_RELAXED);
    l.max_side = __atomic_load_n(&limit_side, __ATOMIC_RELAXED);
    l.max_jpeg_scans = __atomic_load_n(&limit_scans, __ATOMIC_RELAXED);
    l.max_file_bytes = __atomic_load_n(&limit_file_bytes, __ATOMIC_RELAXED);
    return l;
}

/* Writes "image is WxH, over the limit of ..." into err and returns nonzero when (w, h) is over a
 * limit. Both come straight from a file header, so nothing is allocated before this passes. */
static int over_limits(uint64_t w, uint64_t h, const cx_limits *l, const char *codec, char *err, size_t errlen) {
    if (w > l->max_side || h > l->max_side) {
        if (err && errlen)
            snprintf(err, errlen, "%s: image too large: %llux%llu, over the limit of %u pixels per side "
                     "(CYCLEX_MAX_IMAGE_SIDE)", codec, (unsigned long long)w, (unsigned long long)h, l->max_side);
        return 1;
    }
    if (w * h > l->max_pixels || (h && w * h / h != w)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: image too large: %llux%llu = %llu pixels, over the limit of %llu "
                     "(CYCLEX_MAX_IMAGE_PIXELS)", codec, (unsigned long long)w, (unsigned long long)h,
                     (unsigned long long)(w * h), (unsigned long long)l->max_pixels);
        return 1;
    }
    return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *detail) {
    if (err && errlen) snprintf(err, errlen, fmt, detail);
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

void cx_free_image(cx_image *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
}

void cx_free_buffer(void *buffer) { free(buffer); }

/* ------------------------------------------------------------------------------------ file IO */

static int read_whole_file(const char *path, uint8_t **out, size_t *size, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { set_err(err, errlen, "cannot open: %s", strerror(errno)); return CX_ERR_OPEN; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        set_err(err, errlen, "cannot stat: %s", strerror(errno)); fclose(f); return CX_ERR_OPEN;
    }
    if (S_ISDIR(st.st_mode)) { set_err(err, errlen, "%s", "is a directory"); fclose(f); return CX_ERR_OPEN; }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) { set_err(err, errlen, "%s", "out of memory"); fclose(f); return CX_ERR_MEMORY; }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    if (got != n) {
        set_err(err, errlen, "read error: %s", ferror(f) ? strerror(errno) : "short read");
        free(buf); fclose(f); return CX_ERR_OPEN;
    }
    fclose(f);
    *out = buf; *size = n;
    return CX_OK;
}

/* ------------------------------------------------------------------------------------ PNG */

typedef struct { char *err; size_t errlen; } png_ctx;
typedef struct { const uint8_t *data; size_t size, pos; } mem_reader;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = (png_ctx *)png_get_error_ptr(png);
    if (c) set_err(c->err, c->errlen, "libpng: %s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_mem_read(png_structp png, png_bytep dst, png_size_t n) {
    mem_reader *r = (mem_reader *)png_get_io_ptr(png);
    if (r->size - r->pos < n) png_error(png, "Read Error");
    memcpy(dst, r->data + r->pos, n);
    r->pos += n;
}

static int decode_png(const uint8_t *data, size_t size, const cx_limits *lim, cx_image *out, char *err, size_t errlen) {
    png_ctx ctx = {err, errlen};
    mem_reader reader = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    if (!png) { set_err(err, errlen, "%s", "libpng: out of memory"); return CX_ERR_MEMORY; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_err(err, errlen, "%s", "libpng: out of memory"); return CX_ERR_MEMORY;
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile int code = CX_ERR_DECODE;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels); free(rows);
        return code;
    }
    const cx_limits limits = lim ? *lim : cx_get_limits();
    /* libpng's own width/height limit would fail as a decode error; ours below names the limit. */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_set_chunk_malloc_max(png, 8000000);  /* per ancillary chunk (zTXt, iCCP, ...) */
    png_set_chunk_cache_max(png, 1000);      /* ancillary chunks kept (sPLT, text, unknown) */
    png_set_read_fn(png, &reader, png_mem_read);
    png_read_info(png, info);
    if (over_limits(png_get_image_width(png, info), png_get_image_height(png, info), &limits, "libpng", err, errlen)) {
        png_destroy_read_struct(&png, &info, NULL);
        return CX_ERR_MEMORY;
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int channels = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    if ((depth != 8 && depth != 16) || channels < 1 || channels > 4) {
        code = CX_ERR_UNSUPPORTED;
        png_error(png, "unsupported PNG layout after expansion");
    }
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != width * (size_t)channels * (size_t)(depth / 8)) png_error(png, "unexpected row size");
    if (height && rowbytes > CX_MAX_BYTES / height) {
        code = CX_ERR_MEMORY;
        png_error(png, "image too large");
    }
    if (width == 0 || height == 0) png_error(png, "image has no pixels");
    pixels = malloc(rowbytes * height ? rowbytes * height : 1);
    rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!pixels || !rows) { code = CX_ERR_MEMORY; png_error(png, "out of memory"); }
    for (size_t y = 0; y < height; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);

    out->width = (int)width; out->height = (int)height; out->channels = channels; out->depth = depth;
    out->exif_orientation = 1;
    out->pixels = pixels;
    return CX_OK;
}

int cx_png_write(const char *path, const cx_image *img, int compression_level, char *err, size_t errlen) {
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    if (img->channels < 1 || img->channels > 4 || (img->depth != 8 && img->depth != 16) || img->width <= 0 ||
        img->height <= 0 || !img->pixels) {
        set_err(err, errlen, "%s", "PNG write needs 1-4 channels, depth 8 or 16 and a non-empty image");
        return CX_ERR_UNSUPPORTED;
    }
    FILE *volatile f = fopen(path, "wb");
    if (!f) { set_err(err, errlen, "cannot create: %s", strerror(errno)); return CX_ERR_WRITE; }
    png_ctx ctx = {err, errlen};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f); remove(path);
        set_err(err, errlen, "%s", "libpng: out of memory"); return CX_ERR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows); fclose(f); remove(path);
        return CX_ERR_WRITE;
    }
    png_init_io(png, f);
    if (compression_level < 0) compression_level = 0;
    if (compression_level > 9) compression_level = 9;
    png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, img->depth,
                 color_types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (img->depth == 16 && host_is_little_endian()) png_set_swap(png);
    size_t rowbytes = (size_t)img->width * (size_t)img->channels * (size_t)(img->depth / 8);
    rows = malloc(sizeof(png_bytep) * (size_t)img->height);
    if (!rows) png_error(png, "out of memory");
    for (int y = 0; y < img->height; y++) rows[y] = (png_bytep)img->pixels + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (fclose(f) != 0) {
        set_err(err, errlen, "write failed: %s", strerror(errno)); remove(path); return CX_ERR_WRITE;
    }
    return CX_OK;
}

/* ------------------------------------------------------------------------------------ JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *err;
    size_t errlen;
} jerr_t;

static void jpeg_on_error_exit(j_common_ptr c) { /* replaces libjpeg's exit() */
    jerr_t *e = (jerr_t *)c->err;
    char m[JMSG_LENGTH_MAX];
    c->err->format_message(c, m);
    set_err(e->err, e->errlen, "libjpeg: %s", m);
    longjmp(e->jump, 1);
}

static void jpeg_on_message(j_common_ptr c, int level) {
    /* Corrupt data is an error, not a warning: libjpeg would otherwise "succeed" with a gray-filled
     * remainder. Stray bytes between markers are harmless and common, so they stay warnings. */
    if (level < 0 && c->err->msg_code != JWRN_EXTRANEOUS_DATA) c->err->error_exit(c);
}

/* libjpeg's error manager with our handlers; returns the `err` field for a (de)compress struct.
 * The setjmp itself must stay in the caller's frame. */
static struct jpeg_error_mgr *jpeg_errors(jerr_t *jerr, char *err, size_t errlen) {
    struct jpeg_error_mgr *pub = jpeg_std_error(&jerr->pub);
    pub->error_exit = jpeg_on_error_exit;
    pub->emit_message = jpeg_on_message;
    jerr->err = err; jerr->errlen = errlen;
    return pub;
}

static unsigned read_u16(const uint8_t *p, int big) { return big ? (p[0] << 8) | p[1] : p[0] | (p[1] << 8); }

static uint32_t read_u32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
               : p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* EXIF orientation (tag 0x0112 in IFD0) from the saved APP1 markers; 1 when absent or malformed. */
static int exif_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 14 || memcmp(m->data, "Exif\0\0", 6) != 0) continue;
        const uint8_t *t = m->data + 6;
        size_t n = m->data_length - 6;
        int big;
        if (t[0] == 'I' && t[1] == 'I') big = 0;
        else if (t[0] == 'M' && t[1] == 'M') big = 1;
        else continue;
        if (read_u16(t + 2, big) != 42) continue;
        uint32_t ifd = read_u32(t + 4, big);
        if (ifd > n || n - ifd < 2) continue;
        unsigned count = read_u16(t + ifd, big);
        for (unsigned i = 0; i < count; i++) {
            size_t e = (size_t)ifd + 2 + (size_t)i * 12;
            if (e + 12 > n) break;
            if (read_u16(t + e, big) == 0x0112 && read_u16(t + e + 2, big) == 3) {
                unsigned v = read_u16(t + e + 8, big);
                return (v >= 1 && v <= 8) ? (int)v : 1;
            }
        }
    }
    return 1;
}

/* Applies EXIF orientation o (2-8) to an interleaved image of `bpp` bytes per pixel; returns the new
 * buffer (or NULL when out of memory) and updates *w, *h. PIL exif_transpose equivalents:
 * 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 ccw. */
static uint8_t *apply_orientation(const uint8_t *src, int *w, int *h, size_t bpp, int o) {
    size_t W = (size_t)*w, H = (size_t)*h;
    int swap = o >= 5;
    size_t ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *dst = malloc(W * H * bpp ? W * H * bpp : 1);
    if (!dst) return NULL;
    for (size_t r = 0; r < oh; r++) {
        for (size_t c = 0; c < ow; c++) {
            size_t sr, sc; /* source row, column for output (r, c) */
            switch (o) {
            case 2: sr = r; sc = W - 1 - c; break;
            case 3: sr = H - 1 - r; sc = W - 1 - c; break;
            case 4: sr = H - 1 - r; sc = c; break;
            case 5: sr = c; sc = r; break;
            case 6: sr = H - 1 - c; sc = r; break;
            case 7: sr = H - 1 - c; sc = W - 1 - r; break;
            case 8: sr = c; sc = W - 1 - r; break;
            default: sr = r; sc = c; break;
            }
            memcpy(dst + (r * ow + c) * bpp, src + (sr * W + sc) * bpp, bpp);
        }
    }
    *w = (int)ow; *h = (int)oh;
    return dst;
}

/* Counts the scans of a progressive JPEG as libjpeg reads them and stops at the limit: each scan
 * is a pass over the coefficient buffer, so thousands of tiny scans cost minutes of CPU. */
typedef struct {
    struct jpeg_progress_mgr pub;
    int max_scans;
} scan_limit_t;

static void jpeg_count_scans(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    scan_limit_t *p = (scan_limit_t *)c->progress;
    if (d->input_scan_number > p->max_scans) {
        jerr_t *e = (jerr_t *)c->err;
        if (e->err && e->errlen)
            snprintf(e->err, e->errlen, "libjpeg: more than %d progressive scans (CYCLEX_MAX_JPEG_SCANS)", p->max_scans);
        longjmp(e->jump, 1);
    }
}

static int decode_jpeg(const uint8_t *data, size_t size, const cx_limits *lim, cx_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    jerr_t jerr;
    scan_limit_t scans;
    const cx_limits limits = lim ? *lim : cx_get_limits();
    memset(&cinfo, 0, sizeof cinfo);
    memset(&scans, 0, sizeof scans);
    cinfo.err = jpeg_errors(&jerr, err, errlen);
    uint8_t *volatile pixels = NULL;
    volatile int code = CX_ERR_DECODE;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return code;
    }
    jpeg_create_decompress(&cinfo);
    /* libjpeg's working memory (progressive files keep every DCT coefficient: 2 bytes per sample
     * per component); past this budget it fails instead of allocating. */
    uint64_t budget = limits.max_pixels > (uint64_t)LONG_MAX / 10 ? (uint64_t)LONG_MAX : limits.max_pixels * 10;
    cinfo.mem->max_memory_to_use = (long)(budget < ((uint64_t)64 << 20) ? ((uint64_t)64 << 20) : budget);
    scans.pub.progress_monitor = jpeg_count_scans;
    scans.max_scans = limits.max_jpeg_scans > INT_MAX ? INT_MAX : (int)limits.max_jpeg_scans;
    cinfo.progress = &scans.pub;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    /* Before jpeg_start_decompress, which allocates the coefficient buffers of a progressive file
     * (width x height x components x 2 bytes) and the output buffers. */
    if (over_limits(cinfo.image_width, cinfo.image_height, &limits, "libjpeg", err, errlen)) {
        jpeg_destroy_decompress(&cinfo);
        return CX_ERR_MEMORY;
    }
    if (cinfo.num_components < 1 || cinfo.num_components > 4) {
        set_err(err, errlen, "%s", "libjpeg: unsupported number of colour components");
        jpeg_destroy_decompress(&cinfo);
        return CX_ERR_UNSUPPORTED;
    }

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height, comps = (size_t)cinfo.output_components;
    if (comps != (cmyk ? 4u : (cinfo.out_color_space == JCS_GRAYSCALE ? 1u : 3u))) {
        code = CX_ERR_UNSUPPORTED;
        set_err(err, errlen, "%s", "libjpeg: unsupported colour layout");
        jpeg_destroy_decompress(&cinfo);
        return code;
    }
    if (w == 0 || h == 0 || w * comps > CX_MAX_BYTES / h) { /* output size = header size at scale 1 */
        set_err(err, errlen, "%s", "libjpeg: output size out of range");
        jpeg_destroy_decompress(&cinfo);
        return CX_ERR_MEMORY;
    }
    size_t stride = w * comps;
    pixels = malloc(stride * h ? stride * h : 1);
    if (!pixels) {
        set_err(err, errlen, "%s", "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return CX_ERR_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    int orientation = exif_orientation(&cinfo);
    int inverted = cinfo.saw_Adobe_marker;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);

    uint8_t *result = pixels;
    int channels = (int)comps;
    if (cmyk) {
        /* Adobe (Photoshop, ImageMagick) CMYK JPEGs store inverted ink values: R = C'·K'/255. */
        uint8_t *rgb = malloc(w * h * 3 ? w * h * 3 : 1);
        if (!rgb) { free(pixels); set_err(err, errlen, "%s", "out of memory"); return CX_ERR_MEMORY; }
        for (size_t i = 0; i < w * h; i++) {
            unsigned c = result[4 * i], m = result[4 * i + 1], y = result[4 * i + 2], k = result[4 * i + 3];
            if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            rgb[3 * i] = (uint8_t)((c * k + 127) / 255);
            rgb[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
            rgb[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
        }
        free(pixels);
        result = rgb;
        channels = 3;
    }
    int width = (int)w, height = (int)h;
    if (orientation != 1) {
        uint8_t *turned = apply_orientation(result, &width, &height, (size_t)channels, orientation);
        free(result);
        if (!turned) { set_err(err, errlen, "%s", "out of memory"); return CX_ERR_MEMORY; }
        result = turned;
    }
    out->width = width; out->height = height; out->channels = channels; out->depth = 8;
    out->exif_orientation = orientation;
    out->pixels = result;
    return CX_OK;
}

static int write_jpeg(const char *path, const cx_image *img, int quality, int progressive, int cmyk_mode,
                      char *err, size_t errlen) {
    int cmyk = cmyk_mode > 0;
    if (img->depth != 8 || !(img->channels == 1 || img->channels == 3) || img->width <= 0 || img->height <= 0 ||
        !img->pixels) {
        set_err(err, errlen, "%s", "JPEG write needs 8-bit gray or RGB (no alpha, no 16-bit)");
        return CX_ERR_UNSUPPORTED;
    }
    if (cmyk && img->channels != 3) {
        set_err(err, errlen, "%s", "CMYK JPEG write needs RGB input"); return CX_ERR_UNSUPPORTED;
    }
    FILE *volatile f = fopen(path, "wb");
    if (!f) { set_err(err, errlen, "cannot create: %s", strerror(errno)); return CX_ERR_WRITE; }
    struct jpeg_compress_struct cinfo;
    jerr_t jerr;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_errors(&jerr, err, errlen);
    uint8_t *volatile row = NULL;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(row); fclose(f); remove(path);
        return CX_ERR_WRITE;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = cmyk ? 4 : img->channels;
    cinfo.in_color_space = cmyk ? JCS_CMYK : (img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB);
    jpeg_set_defaults(&cinfo);
    if (cmyk) jpeg_set_colorspace(&cinfo, cmyk_mode == 2 ? JCS_YCCK : JCS_CMYK);
    if (quality < 1) quality = 1;
    if (quality > 100) quality = 100;
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_scan_info many[1 + 3 * 63 * 3];
    if (progressive == 2 && cinfo.num_components == 3) {
        /* One DC scan, then each AC coefficient of each component alone, in three passes. */
        int n = 0;
        many[n].comps_in_scan = 3;
        for (int c = 0; c < 3; c++) many[n].component_index[c] = c;
        many[n].Ss = 0; many[n].Se = 0; many[n].Ah = 0; many[n].Al = 0; n++;
        static const int ah[3] = {0, 2, 1}, al[3] = {2, 1, 0};
        for (int pass = 0; pass < 3; pass++)
            for (int c = 0; c < 3; c++)
                for (int k = 1; k < 64; k++) {
                    many[n].comps_in_scan = 1; many[n].component_index[0] = c;
                    many[n].Ss = k; many[n].Se = k; many[n].Ah = ah[pass]; many[n].Al = al[pass]; n++;
                }
        cinfo.scan_info = many;
        cinfo.num_scans = n;
    } else if (progressive) {
        jpeg_simple_progression(&cinfo);
    }
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    if (cmyk) {
        row = malloc((size_t)img->width * 4);
        if (!row) { set_err(err, errlen, "%s", "out of memory"); longjmp(jerr.jump, 1); }
    }
    while (cinfo.next_scanline < cinfo.image_height) {
        const uint8_t *src = (const uint8_t *)img->pixels + (size_t)cinfo.next_scanline * stride;
        JSAMPROW r = (JSAMPROW)src;
        if (cmyk) {
            for (int x = 0; x < img->width; x++) {
                unsigned R = src[3 * x], G = src[3 * x + 1], B = src[3 * x + 2];
                unsigned K = R > G ? (R > B ? R : B) : (G > B ? G : B); /* inverted K = max(R, G, B) */
                row[4 * x] = (uint8_t)(K ? (R * 255 + K / 2) / K : 0);
                row[4 * x + 1] = (uint8_t)(K ? (G * 255 + K / 2) / K : 0);
                row[4 * x + 2] = (uint8_t)(K ? (B * 255 + K / 2) / K : 0);
                row[4 * x + 3] = (uint8_t)K;
            }
            r = row;
        }
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    if (fclose(f) != 0) {
        set_err(err, errlen, "write failed: %s", strerror(errno)); remove(path); return CX_ERR_WRITE;
    }
    return CX_OK;
}

int cx_jpeg_write(const char *path, const cx_image *img, int quality, int progressive, char *err, size_t errlen) {
    return write_jpeg(path, img, quality, progressive, 0, err, errlen);
}

int cx_jpeg_write_many_scans(const char *path, const cx_image *img, int quality, char *err, size_t errlen) {
    if (img->channels != 3) { set_err(err, errlen, "%s", "needs RGB input"); return CX_ERR_UNSUPPORTED; }
    return write_jpeg(path, img, quality, 2, 0, err, errlen);
}

int cx_jpeg_write_cmyk(const char *path, const cx_image *img, int quality, int ycck, char *err, size_t errlen) {
    return write_jpeg(path, img, quality, 0, ycck ? 2 : 1, err, errlen);
}

/* ------------------------------------------------------------------------------------ dispatch */

int cx_decode_image(const uint8_t *data, size_t size, const cx_limits *limits, cx_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size >= 8 && memcmp(data, png_magic, 8) == 0) return decode_png(data, size, limits, out, err, errlen);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, size, limits, out, err, errlen);
    if (size == 0) { set_err(err, errlen, "%s", "empty file (not a PNG or JPEG file)"); return CX_ERR_FORMAT; }
    const char *kind = NULL;
    if (size >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0)) kind = "GIF";
    else if (size >= 2 && data[0] == 'B' && data[1] == 'M') kind = "BMP";
    else if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) kind = "WebP";
    else if (size >= 4 && (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0)) kind = "TIFF";
    else if (size >= 12 && memcmp(data + 4, "ftyp", 4) == 0) kind = "HEIF/AVIF";
    if (kind) {
        set_err(err, errlen, "unsupported format %s (cyclex reads PNG and JPEG)", kind);
        return CX_ERR_UNSUPPORTED;
    }
    set_err(err, errlen, "%s", "not a PNG or JPEG file");
    return CX_ERR_FORMAT;
}

int cx_read_image(const char *path, const cx_limits *limits, cx_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = read_whole_file(path, &data, &size, err, errlen);
    if (rc != CX_OK) return rc;
    rc = cx_decode_image(data, size, limits, out, err, errlen);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------------------ gzip */

int cx_read_maybe_gzip(const char *path, const cx_limits *limits, uint8_t **out, size_t *size, char *err, size_t errlen) {
    *out = NULL; *size = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) { set_err(err, errlen, "cannot open: %s", strerror(errno)); return CX_ERR_OPEN; }
    fclose(probe);
    gzFile gz = gzopen(path, "rb");
    if (!gz) { set_err(err, errlen, "cannot open: %s", strerror(errno)); return CX_ERR_OPEN; }
    gzbuffer(gz, 1 << 17);
    const uint64_t max_bytes = limits ? limits->max_file_bytes : cx_get_limits().max_file_bytes;
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { gzclose(gz); set_err(err, errlen, "%s", "out of memory"); return CX_ERR_MEMORY; }
    for (;;) {
        if (cap - n < (1u << 16)) {
            if (cap > ((size_t)1 << 40)) { free(buf); gzclose(gz); set_err(err, errlen, "%s", "file too large"); return CX_ERR_MEMORY; }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); gzclose(gz); set_err(err, errlen, "%s", "out of memory"); return CX_ERR_MEMORY; }
            buf = bigger; cap *= 2;
        }
        unsigned want = (unsigned)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
        int got = gzread(gz, buf + n, want);
        if (got < 0) {
            int errnum = 0;
            const char *msg = gzerror(gz, &errnum);
            set_err(err, errlen, "zlib: %s", (errnum == Z_ERRNO) ? strerror(errno) : msg);
            free(buf); gzclose(gz);
            return CX_ERR_DECODE;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > max_bytes) {
            if (err && errlen)
                snprintf(err, errlen, "more than %llu bytes (inflated); CYCLEX_MAX_FILE_BYTES raises the limit",
                         (unsigned long long)max_bytes);
            free(buf); gzclose(gz);
            return CX_ERR_MEMORY;
        }
    }
    /* gzread reports a truncated gzip stream only through gzerror after EOF. */
    int errnum = 0;
    const char *msg = gzerror(gz, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        set_err(err, errlen, "zlib: %s", msg);
        free(buf); gzclose(gz);
        return CX_ERR_DECODE;
    }
    gzclose(gz);
    *out = buf; *size = n;
    return CX_OK;
}
