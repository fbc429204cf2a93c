// Counts heap allocations of the whole process by interposing malloc and friends (forwarding to
// glibc's __libc_* entry points). Linked only into benchmark executables.
#ifndef ALLOC_COUNTER_H
#define ALLOC_COUNTER_H
#include <stdint.h>
/// Allocations (malloc, calloc, realloc, aligned) since the process started.
uint64_t gw_allocations(void);
#endif
