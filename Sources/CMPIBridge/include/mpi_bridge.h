#ifndef FACEWGAN_MPI_BRIDGE_H
#define FACEWGAN_MPI_BRIDGE_H

// The few MPI calls data-parallel training needs, in plain C types. MPI's handles (MPI_COMM_WORLD,
// MPI_FLOAT, ...) are macros over implementation-specific objects that Swift cannot import; behind
// these functions the same Swift code builds against Open MPI and MPICH. Only standard MPI-3 calls.
// Errors use MPI's default handler (MPI_ERRORS_ARE_FATAL): a failed call, or a rank that died, ends
// the whole job instead of leaving the others waiting.

#include <stddef.h>
#include <stdint.h>

/// MPI_Init_thread with MPI_THREAD_FUNNELED (only the main thread calls MPI). 0 on success.
int fw_mpi_initialize(int *rank, int *size, char *error, size_t error_size);
void fw_mpi_finalize(void);
void fw_mpi_abort(int code);

/// In-place sums over every rank (MPI_Allreduce with MPI_IN_PLACE), counts of any size.
void fw_mpi_sum_float(float *values, int64_t count);
void fw_mpi_sum_double(double *values, int64_t count);
/// The largest value over every rank.
int64_t fw_mpi_max_int64(int64_t value);
/// `bytes` bytes from `root` to every rank.
void fw_mpi_broadcast(void *buffer, int64_t bytes, int root);
/// Every rank's `bytes` bytes, in rank order, into `gathered` (size * bytes).
void fw_mpi_all_gather(const void *buffer, int bytes, void *gathered);
/// This rank's host name.
void fw_mpi_processor_name(char *name, size_t size);

#endif
