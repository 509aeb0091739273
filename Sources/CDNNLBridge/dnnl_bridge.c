#include "dnnl_bridge.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// libdnnl is built on OpenMP (libgomp) in Debian; its thread count is OpenMP's.
extern void omp_set_num_threads(int threads);

enum { FIRST = 0, SECOND = 1, RESULT = 2, PORTS = 3, SCRATCHPAD = 3, BUFFERS = 4 };

struct fw_dnnl_buffer {
    void *data;
    size_t size;
};

struct fw_dnnl_context {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    // Operations run one at a time, so they share the reorder targets and the primitives' scratchpad;
    // they grow to the largest request and are kept.
    struct fw_dnnl_buffer buffers[BUFFERS];
    double reorder_seconds;
};

static double now_seconds(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + 1e-9 * (double)time.tv_nsec;
}

double fw_dnnl_take_reorder_seconds(fw_dnnl_context *context) {
    double seconds = context->reorder_seconds;
    context->reorder_seconds = 0;
    return seconds;
}

const char *fw_dnnl_version(void) {
    static char text[32];
    const dnnl_version_t *version = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d", version->major, version->minor, version->patch);
    return text;
}

/// One argument as the caller sees it (plain f32) and as the primitive wants it.
struct fw_dnnl_port {
    int argument;
    int reordered;
    dnnl_memory_t user_memory;
    dnnl_memory_t primitive_memory;
    dnnl_primitive_t reorder;
    size_t primitive_size;
};

struct fw_dnnl_operation {
    dnnl_primitive_t primitive;
    struct fw_dnnl_port ports[PORTS];
    dnnl_memory_t scratchpad;
    size_t scratchpad_size;
    char implementation[96];
};

#define CHECK(call)                                                                     \
    do {                                                                                \
        dnnl_status_t status_ = (call);                                                 \
        if (status_ != dnnl_success) {                                                  \
            if (error) snprintf(error, error_size, "%s: %s", #call, dnnl_status2str(status_)); \
            goto fail;                                                                  \
        }                                                                               \
    } while (0)

_Static_assert(FW_DNNL_SUCCESS == dnnl_success && FW_DNNL_OUT_OF_MEMORY == dnnl_out_of_memory,
               "the bridge header mirrors dnnl_status_t");

/// CHECK that also keeps the status, for the functions that return it.
#define CHECK_STATUS(call)                                                              \
    do {                                                                                \
        status = (call);                                                                \
        if (status != dnnl_success) {                                                   \
            if (error) snprintf(error, error_size, "%s: %s", #call, dnnl_status2str(status)); \
            goto fail;                                                                  \
        }                                                                               \
    } while (0)

static void *buffer_get(struct fw_dnnl_buffer *buffer, size_t size) {
    if (size == 0) size = 64;
    if (buffer->size >= size) return buffer->data;
    free(buffer->data);
    size_t rounded = (size + 4095) & ~(size_t)4095;
    buffer->data = aligned_alloc(64, rounded);
    buffer->size = buffer->data ? rounded : 0;
    return buffer->data;
}

fw_dnnl_context *fw_dnnl_context_create(char *error, size_t error_size) {
    fw_dnnl_context *context = calloc(1, sizeof *context);
    if (!context) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    CHECK(dnnl_engine_create(&context->engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&context->stream, context->engine, dnnl_stream_default_flags));
    return context;
fail:
    fw_dnnl_context_destroy(context);
    return NULL;
}

void fw_dnnl_context_destroy(fw_dnnl_context *context) {
    if (!context) return;
    if (context->stream) dnnl_stream_destroy(context->stream);
    if (context->engine) dnnl_engine_destroy(context->engine);
    for (int index = 0; index < BUFFERS; index++) free(context->buffers[index].data);
    free(context);
}

void fw_dnnl_set_threads(int threads) { omp_set_num_threads(threads > 0 ? threads : 1); }

int fw_dnnl_cpu_has_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

const char *fw_dnnl_cpu_isa_name(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void fw_dnnl_operation_destroy(fw_dnnl_operation *operation) {
    if (!operation) return;
    if (operation->primitive) dnnl_primitive_destroy(operation->primitive);
    for (int index = 0; index < PORTS; index++) {
        struct fw_dnnl_port *port = &operation->ports[index];
        if (port->reorder) dnnl_primitive_destroy(port->reorder);
        if (port->user_memory) dnnl_memory_destroy(port->user_memory);
        if (port->primitive_memory) dnnl_memory_destroy(port->primitive_memory);
    }
    if (operation->scratchpad) dnnl_memory_destroy(operation->scratchpad);
    free(operation);
}

const char *fw_dnnl_operation_implementation(const fw_dnnl_operation *operation) {
    return operation->implementation;
}

/// Sets up one port: the user's plain memory and, when the primitive wants another layout or type
/// (or the result must be added to the user's memory), a reorder between the two.
static int port_create(fw_dnnl_context *context, struct fw_dnnl_port *port, int argument, int is_output,
                       int accumulate, const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *primitive_md,
                       char *error, size_t error_size) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t reorder_pd = NULL;
    port->argument = argument;
    port->reordered = accumulate || !dnnl_memory_desc_equal(user_md, primitive_md);
    CHECK(dnnl_memory_create(&port->user_memory, user_md, context->engine, DNNL_MEMORY_NONE));
    if (!port->reordered) return 0;
    port->primitive_size = dnnl_memory_desc_get_size(primitive_md);
    CHECK(dnnl_memory_create(&port->primitive_memory, primitive_md, context->engine, DNNL_MEMORY_NONE));
    CHECK(dnnl_primitive_attr_create(&attr));
    if (accumulate) {
        CHECK(dnnl_post_ops_create(&post_ops));
        CHECK(dnnl_post_ops_append_sum(post_ops, 1.0f));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    }
    if (is_output) {
        CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, primitive_md, context->engine, user_md,
                                                 context->engine, attr));
    } else {
        CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, user_md, context->engine, primitive_md,
                                                 context->engine, attr));
    }
    CHECK(dnnl_primitive_create(&port->reorder, reorder_pd));
    dnnl_primitive_desc_destroy(reorder_pd);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    return 0;
fail:
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return -1;
}

/// Creates the primitive of `pd` and its three ports; takes ownership of nothing.
static fw_dnnl_operation *operation_create(fw_dnnl_context *context, dnnl_primitive_desc_t pd,
                                           const int arguments[PORTS], const dnnl_query_t queries[PORTS],
                                           const dnnl_memory_desc_t *user_mds[PORTS], int accumulate,
                                           char *error, size_t error_size) {
    fw_dnnl_operation *operation = calloc(1, sizeof *operation);
    if (!operation) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    const char *implementation = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &implementation) == dnnl_success && implementation)
        snprintf(operation->implementation, sizeof operation->implementation, "%s", implementation);
    for (int index = 0; index < PORTS; index++) {
        const dnnl_memory_desc_t *primitive_md = dnnl_primitive_desc_query_md(pd, queries[index], 0);
        if (!primitive_md) {
            snprintf(error, error_size, "oneDNN did not report the layout of argument %d", arguments[index]);
            goto fail;
        }
        int is_output = index == RESULT;
        if (port_create(context, &operation->ports[index], arguments[index], is_output, is_output && accumulate,
                        user_mds[index], primitive_md, error, error_size) != 0)
            goto fail;
    }
    const dnnl_memory_desc_t *scratchpad_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    operation->scratchpad_size = scratchpad_md ? dnnl_memory_desc_get_size(scratchpad_md) : 0;
    if (operation->scratchpad_size > 0)
        CHECK(dnnl_memory_create(&operation->scratchpad, scratchpad_md, context->engine, DNNL_MEMORY_NONE));
    CHECK(dnnl_primitive_create(&operation->primitive, pd));
    return operation;
fail:
    fw_dnnl_operation_destroy(operation);
    return NULL;
}

static dnnl_primitive_attr_t user_scratchpad_attr(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    return attr;
}

fw_dnnl_operation *fw_dnnl_convolution_create(fw_dnnl_context *context, fw_dnnl_convolution_kind kind, int bf16,
                                              fw_dnnl_activation_layout layout, int keep_layout,
                                              const fw_dnnl_convolution_shape *shape,
                                              const int64_t *result_strides, char *error, size_t error_size) {
    const fw_dnnl_convolution_shape *s = shape;
    dnnl_dims_t source_dims = {s->batch, s->in_channels, s->height, s->width};
    dnnl_dims_t weight_dims = {s->out_channels, s->in_channels, s->kernel, s->kernel};
    dnnl_dims_t destination_dims = {s->batch, s->out_channels, s->out_height, s->out_width};
    dnnl_dims_t strides = {s->stride, s->stride};
    dnnl_dims_t padding_left = {s->pad_top, s->pad_left};
    dnnl_dims_t padding_right = {s->pad_bottom, s->pad_right};
    dnnl_data_type_t operand = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_format_tag_t user_tag = layout == FW_DNNL_NHWC ? dnnl_nhwc : dnnl_nchw;
    // Kept: the primitive works on the caller's activations itself; only weights (and bf16 data) are converted.
    dnnl_format_tag_t activations = keep_layout ? user_tag : dnnl_format_tag_any;

    dnnl_memory_desc_t user_source, user_weights, user_destination;
    dnnl_memory_desc_t any_source_operand, any_weights_operand, any_destination_operand;
    dnnl_memory_desc_t any_source_f32, any_weights_f32, any_destination_f32;
    dnnl_convolution_desc_t forward_desc, desc;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    dnnl_primitive_attr_t attr = user_scratchpad_attr();
    fw_dnnl_operation *operation = NULL;

    CHECK(dnnl_memory_desc_init_by_tag(&user_source, 4, source_dims, dnnl_f32, user_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&user_weights, 4, weight_dims, dnnl_f32, dnnl_oihw));
    if (result_strides) {
        if (kind != FW_DNNL_CONV_FORWARD) {
            snprintf(error, error_size, "strided results are for forward convolutions only");
            goto fail;
        }
        CHECK(dnnl_memory_desc_init_by_strides(&user_destination, 4, destination_dims, dnnl_f32, result_strides));
    } else {
        CHECK(dnnl_memory_desc_init_by_tag(&user_destination, 4, destination_dims, dnnl_f32, user_tag));
    }
    CHECK(dnnl_memory_desc_init_by_tag(&any_source_operand, 4, source_dims, operand, activations));
    CHECK(dnnl_memory_desc_init_by_tag(&any_weights_operand, 4, weight_dims, operand, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&any_destination_operand, 4, destination_dims, operand, activations));
    CHECK(dnnl_memory_desc_init_by_tag(&any_source_f32, 4, source_dims, dnnl_f32, activations));
    CHECK(dnnl_memory_desc_init_by_tag(&any_weights_f32, 4, weight_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&any_destination_f32, 4, destination_dims, dnnl_f32,
                                       result_strides ? dnnl_format_tag_any : activations));

    switch (kind) {
    case FW_DNNL_CONV_FORWARD: {
        CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct,
                                                 &any_source_operand, &any_weights_operand, NULL,
                                                 &any_destination_f32, strides, padding_left, padding_right));
        CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, context->engine, NULL));
        const int arguments[PORTS] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
        const dnnl_query_t queries[PORTS] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
        const dnnl_memory_desc_t *users[PORTS] = {&user_source, &user_weights, &user_destination};
        operation = operation_create(context, pd, arguments, queries, users, 0, error, error_size);
        break;
    }
    case FW_DNNL_CONV_BACKWARD_DATA: {
        // The hint is the forward pass in the operand type (oneDNN's bf16 training recipe).
        CHECK(dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, dnnl_convolution_direct,
                                                 &any_source_operand, &any_weights_operand, NULL,
                                                 &any_destination_operand, strides, padding_left, padding_right));
        CHECK(dnnl_primitive_desc_create(&hint, &forward_desc, NULL, context->engine, NULL));
        CHECK(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &any_source_f32,
                                                       &any_weights_operand, &any_destination_operand, strides,
                                                       padding_left, padding_right));
        CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, context->engine, hint));
        const int arguments[PORTS] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        const dnnl_query_t queries[PORTS] = {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md};
        const dnnl_memory_desc_t *users[PORTS] = {&user_destination, &user_weights, &user_source};
        operation = operation_create(context, pd, arguments, queries, users, 0, error, error_size);
        break;
    }
    case FW_DNNL_CONV_BACKWARD_WEIGHTS: {
        // The hint is the forward pass in the operand type (oneDNN's bf16 training recipe).
        CHECK(dnnl_convolution_forward_desc_init(&forward_desc, dnnl_forward_training, dnnl_convolution_direct,
                                                 &any_source_operand, &any_weights_operand, NULL,
                                                 &any_destination_operand, strides, padding_left, padding_right));
        CHECK(dnnl_primitive_desc_create(&hint, &forward_desc, NULL, context->engine, NULL));
        CHECK(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &any_source_operand,
                                                          &any_weights_f32, NULL, &any_destination_operand,
                                                          strides, padding_left, padding_right));
        CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, context->engine, hint));
        const int arguments[PORTS] = {DNNL_ARG_DIFF_DST, DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS};
        const dnnl_query_t queries[PORTS] = {dnnl_query_diff_dst_md, dnnl_query_src_md, dnnl_query_diff_weights_md};
        const dnnl_memory_desc_t *users[PORTS] = {&user_destination, &user_source, &user_weights};
        operation = operation_create(context, pd, arguments, queries, users, 1, error, error_size);
        break;
    }
    default:
        snprintf(error, error_size, "unknown convolution kind %d", (int)kind);
        break;
    }
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (hint) dnnl_primitive_desc_destroy(hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return operation;
}

fw_dnnl_operation *fw_dnnl_matmul_create(fw_dnnl_context *context, int bf16, int transpose_a, int transpose_b,
                                         int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                                         float alpha, float beta, char *error, size_t error_size) {
    dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, c_dims = {m, n};
    // Row-major storage of op(A): element (i, p) at i*lda + p, or p*lda + i when transposed.
    dnnl_dims_t a_strides = {transpose_a ? 1 : lda, transpose_a ? lda : 1};
    dnnl_dims_t b_strides = {transpose_b ? 1 : ldb, transpose_b ? ldb : 1};
    dnnl_dims_t c_strides = {ldc, 1};
    dnnl_memory_desc_t user_a, user_b, user_c, operand_a, operand_b;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = user_scratchpad_attr();
    dnnl_post_ops_t post_ops = NULL;
    fw_dnnl_operation *operation = NULL;

    CHECK(dnnl_memory_desc_init_by_strides(&user_a, 2, a_dims, dnnl_f32, a_strides));
    CHECK(dnnl_memory_desc_init_by_strides(&user_b, 2, b_dims, dnnl_f32, b_strides));
    CHECK(dnnl_memory_desc_init_by_strides(&user_c, 2, c_dims, dnnl_f32, c_strides));
    if (bf16) {
        CHECK(dnnl_memory_desc_init_by_tag(&operand_a, 2, a_dims, dnnl_bf16, dnnl_ab));
        CHECK(dnnl_memory_desc_init_by_tag(&operand_b, 2, b_dims, dnnl_bf16, dnnl_format_tag_any));
    } else {
        operand_a = user_a;
        operand_b = user_b;
    }
    if (alpha != 1.0f) CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha));
    if (beta != 0.0f) {
        CHECK(dnnl_post_ops_create(&post_ops));
        CHECK(dnnl_post_ops_append_sum(post_ops, beta));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    }
    CHECK(dnnl_matmul_desc_init(&desc, &operand_a, &operand_b, NULL, &user_c));
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, context->engine, NULL));
    {
        const int arguments[PORTS] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
        const dnnl_query_t queries[PORTS] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
        const dnnl_memory_desc_t *users[PORTS] = {&user_a, &user_b, &user_c};
        operation = operation_create(context, pd, arguments, queries, users, 0, error, error_size);
    }
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return operation;
}

int fw_dnnl_execute(fw_dnnl_context *context, fw_dnnl_operation *operation,
                    const float *first, const float *second, float *result, char *error, size_t error_size) {
    dnnl_status_t status = dnnl_success;
    void *pointers[PORTS] = {(void *)first, (void *)second, (void *)result};
    dnnl_exec_arg_t arguments[PORTS + 1];
    int count = 0;
    for (int index = 0; index < PORTS; index++) {
        struct fw_dnnl_port *port = &operation->ports[index];
        CHECK_STATUS(dnnl_memory_set_data_handle(port->user_memory, pointers[index]));
        dnnl_memory_t memory = port->user_memory;
        if (port->reordered) {
            void *buffer = buffer_get(&context->buffers[index], port->primitive_size);
            if (!buffer) {
                snprintf(error, error_size, "out of memory (%zu bytes)", port->primitive_size);
                return dnnl_out_of_memory;
            }
            CHECK_STATUS(dnnl_memory_set_data_handle(port->primitive_memory, buffer));
            memory = port->primitive_memory;
            if (index != RESULT) {
                double start = now_seconds();
                dnnl_exec_arg_t reorder_arguments[2] = {{DNNL_ARG_FROM, port->user_memory}, {DNNL_ARG_TO, memory}};
                CHECK_STATUS(dnnl_primitive_execute(port->reorder, context->stream, 2, reorder_arguments));
                CHECK_STATUS(dnnl_stream_wait(context->stream));
                context->reorder_seconds += now_seconds() - start;
            }
        }
        arguments[count++] = (dnnl_exec_arg_t){port->argument, memory};
    }
    if (operation->scratchpad) {
        void *buffer = buffer_get(&context->buffers[SCRATCHPAD], operation->scratchpad_size);
        if (!buffer) {
            snprintf(error, error_size, "out of memory (%zu bytes)", operation->scratchpad_size);
            return dnnl_out_of_memory;
        }
        CHECK_STATUS(dnnl_memory_set_data_handle(operation->scratchpad, buffer));
        arguments[count++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, operation->scratchpad};
    }
    CHECK_STATUS(dnnl_primitive_execute(operation->primitive, context->stream, count, arguments));
    struct fw_dnnl_port *output = &operation->ports[RESULT];
    CHECK_STATUS(dnnl_stream_wait(context->stream));
    if (output->reordered) {
        double start = now_seconds();
        dnnl_exec_arg_t reorder_arguments[2] = {{DNNL_ARG_FROM, output->primitive_memory},
                                                {DNNL_ARG_TO, output->user_memory}};
        CHECK_STATUS(dnnl_primitive_execute(output->reorder, context->stream, 2, reorder_arguments));
        CHECK_STATUS(dnnl_stream_wait(context->stream));
        context->reorder_seconds += now_seconds() - start;
    }
    return 0;
fail:
    return (int)status;
}
