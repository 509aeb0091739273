#ifndef FACEWGAN_DNNL_BRIDGE_H
#define FACEWGAN_DNNL_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

/// oneDNN's C API describes every tensor with fixed-size C arrays and a dozen calls per primitive; this
/// bridge gives the Swift backend four calls: create a context, create an operation for one shape,
/// execute it on user pointers (plain f32 layouts), destroy. Reorders into the layouts and data type
/// oneDNN prefers, and back, happen inside `fw_dnnl_execute`.

typedef struct fw_dnnl_context fw_dnnl_context;
typedef struct fw_dnnl_operation fw_dnnl_operation;

typedef enum {
    FW_DNNL_CONV_FORWARD = 0,          // result[N,Co,Ho,Wo] = conv(first=src[N,Ci,H,W], second=weights[Co,Ci,k,k])
    FW_DNNL_CONV_BACKWARD_DATA = 1,    // result[N,Ci,H,W] = conv^T(first=diff_dst, second=weights)
    FW_DNNL_CONV_BACKWARD_WEIGHTS = 2, // result[Co,Ci,k,k] += sum_n first=diff_dst (x) patches(second=src)
} fw_dnnl_convolution_kind;

/// NULL when oneDNN cannot create a CPU engine; `error` then says why.
fw_dnnl_context *fw_dnnl_context_create(char *error, size_t error_size);
void fw_dnnl_context_destroy(fw_dnnl_context *context);

/// oneDNN's threads (OpenMP) for the primitives that follow.
void fw_dnnl_set_threads(int threads);

/// 1 when the CPU has native bf16 dot products (AVX512-BF16 or AMX-BF16), else 0.
int fw_dnnl_cpu_has_bf16(void);

/// The instruction set oneDNN dispatches to, for messages ("avx512_core_bf16", ...).
const char *fw_dnnl_cpu_isa_name(void);

/// One convolution's shape. Padding may differ per side (a 2x2 parity convolution pads one side only).
typedef struct {
    int64_t batch, in_channels, height, width;
    int64_t out_channels, out_height, out_width;
    int64_t kernel, stride;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
} fw_dnnl_convolution_shape;

/// How the caller's activations lie in memory (weights are always OIHW).
typedef enum {
    FW_DNNL_NCHW = 0,
    FW_DNNL_NHWC = 1,
} fw_dnnl_activation_layout;

/// bf16 != 0: the two operands are converted to bf16, the result is accumulated and written in f32.
/// `keep_layout` != 0: the primitive works on the caller's activation layout itself (no activation
/// reorders; with NHWC that is oneDNN's brgemm convolutions); 0: oneDNN picks its preferred (blocked)
/// layouts and the bridge reorders. `result_strides` (4 values in N, C, H, W order, or NULL for dense)
/// lets a forward convolution write into every other element of a larger tensor.
fw_dnnl_operation *fw_dnnl_convolution_create(fw_dnnl_context *context, fw_dnnl_convolution_kind kind, int bf16,
                                              fw_dnnl_activation_layout layout, int keep_layout,
                                              const fw_dnnl_convolution_shape *shape,
                                              const int64_t *result_strides, char *error, size_t error_size);

/// "2.6.3": the oneDNN library loaded at run time (tuning decisions are only valid for it).
const char *fw_dnnl_version(void);

/// Seconds this context spent in layout and type reorders inside fw_dnnl_execute since the last call
/// (for benchmarks); resets the count.
double fw_dnnl_take_reorder_seconds(fw_dnnl_context *context);

/// C[m,n] = alpha * op(A) * op(B) + beta * C, row-major with leading dimensions, as cblas_sgemm.
fw_dnnl_operation *fw_dnnl_matmul_create(fw_dnnl_context *context, int bf16, int transpose_a, int transpose_b,
                                         int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                                         float alpha, float beta, char *error, size_t error_size);

/// The oneDNN statuses the Swift side tells apart (values of dnnl_status_t).
enum { FW_DNNL_SUCCESS = 0, FW_DNNL_OUT_OF_MEMORY = 1 };

/// Runs the operation; FW_DNNL_SUCCESS, else the oneDNN status (dnnl_status_t) with `error` filled.
int fw_dnnl_execute(fw_dnnl_context *context, fw_dnnl_operation *operation,
                    const float *first, const float *second, float *result, char *error, size_t error_size);

/// The implementation oneDNN picked (e.g. "brgconv:avx512_core"), for benchmarks and logs.
const char *fw_dnnl_operation_implementation(const fw_dnnl_operation *operation);

void fw_dnnl_operation_destroy(fw_dnnl_operation *operation);

#endif
