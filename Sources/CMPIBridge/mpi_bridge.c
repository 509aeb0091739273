#include "mpi_bridge.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int fw_mpi_initialize(int *rank, int *size, char *error, size_t error_size) {
    int provided = 0;
    int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (status != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(status, text, &length);
        snprintf(error, error_size, "MPI_Init_thread: %s", text);
        return status;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

void fw_mpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

void fw_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

// MPI counts are int: larger buffers go in pieces.
static const int64_t piece = INT_MAX / 8;

void fw_mpi_sum_float(float *values, int64_t count) {
    for (int64_t first = 0; first < count; first += piece) {
        int64_t n = count - first < piece ? count - first : piece;
        MPI_Allreduce(MPI_IN_PLACE, values + first, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void fw_mpi_sum_double(double *values, int64_t count) {
    for (int64_t first = 0; first < count; first += piece) {
        int64_t n = count - first < piece ? count - first : piece;
        MPI_Allreduce(MPI_IN_PLACE, values + first, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
}

int64_t fw_mpi_max_int64(int64_t value) {
    long long local = value, result = 0;
    MPI_Allreduce(&local, &result, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return result;
}

void fw_mpi_broadcast(void *buffer, int64_t bytes, int root) {
    for (int64_t first = 0; first < bytes; first += piece) {
        int64_t n = bytes - first < piece ? bytes - first : piece;
        MPI_Bcast((char *)buffer + first, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void fw_mpi_all_gather(const void *buffer, int bytes, void *gathered) {
    MPI_Allgather(buffer, bytes, MPI_BYTE, gathered, bytes, MPI_BYTE, MPI_COMM_WORLD);
}

void fw_mpi_processor_name(char *name, size_t size) {
    char text[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(text, &length);
    snprintf(name, size, "%.*s", length, text);
}
